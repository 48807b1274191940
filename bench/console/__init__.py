"""Benchmark: the agent console at production size (issue 16) — the queue page and a conversation page
answer in ≤ 150 ms p95 server time, and a debtor's new message reaches the owning agent's open page in
≤ 2 s p95 with 20 agents connected.

Usage (from the project root; DATABASE_URL names the PostgreSQL server, the bench uses its own database)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres PYTHONPATH=$PWD \\
        .venv/bin/python -m bench.console
    ... -m bench.console --page-requests 50 --inbound 40 --output /tmp/console   # a quicker look

1. Data (`seed`): the database ``--database`` (``regua_bench_console``) is created when missing, migrated to
   head with the project's migrations, and filled with set-based ``INSERT ... SELECT generate_series``
   statements: 100,000 debtors (valid CPFs, one or two invoices each with one of three creditors), one
   conversation each (2 % waiting for a person, 1 % owned by the 20 agents, the rest the bot's; 1 in 10 on
   SMS), 1,000,000 messages (60 in each conversation handed over, the rest spread over the bot's), and the
   20 agents and a supervisor through the product's accounts service. About a minute and a half on this
   machine; skipped when the data is already there (messages the bench sent earlier stay).
2. The web app (`run`): ``python -m bot.cli web`` from this checkout (``regua web``: gunicorn, as the
   Procfile runs it, ``--web-concurrency`` processes × 4 threads) against that database, with Redis database
   ``--redis-db`` (13, flushed before and after). Its access log gets each request's duration
   (``GUNICORN_CMD_ARGS=--access-logformat``, gunicorn's own ``%(D)s``: server time) and every bench request
   names itself in its User-Agent. Rasa, the action server and the workers are not started: a message in a
   conversation a person owns is stored for that person without asking them (bot/conversation/decide.py).
3. The agents (`agents`): each logs in through the real login form (CSRF token from the page), opens one of
   the conversations they own and polls as the browser does: ``/console/conversas/<id>/novas`` every second
   (console.js), ``/console/novidades`` every 3 s (console-notify.js), a tick skipped while the previous
   poll runs. The supervisor logs in too.
4. Page times: with the agents polling, ``--page-requests`` requests of the queue page as an agent, the
   queue page as the supervisor (who sees every conversation and gets the assign forms) and a conversation
   page (60 messages) as its owner, one after the other; server time from the access log (client time on
   loopback too). The first 10 of each are a warm-up and not counted.
5. Delivery: ``--inbound`` debtor messages at ``--rate`` per second, round robin into the agents' open
   conversations, through the signed Twilio webhook (`bench.inbound.twilio_side`); latency from just before
   the POST until the poll that first carries the message (found by a unique token in its body) returned;
   the alert (``novidades``) is reported too. A message not on its page within 10 s is lost.
6. Report (`report`): ``bench/results/console.md`` and ``console.json`` (machine, data sizes, numbers against
   the goals, verdict); the exit status is 1 when a goal is missed. The machine's load is reported, and the
   bench waits up to ``--wait-idle`` seconds for processes it did not start to quiet down first (a shared
   2-core machine: their CPU inflates every time measured here).

Modules: ``seed`` (the database and its book), ``agents`` (logging in, timed requests, the pages' polling),
``run`` (options, the web app, the two measurements, the session), ``report`` (goals, console.md and .json).
Process handling, percentiles, the machine's load and Twilio's signed webhook come from `bench.inbound`;
nothing comes from ``tests/``.
"""
