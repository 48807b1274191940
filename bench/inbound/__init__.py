"""Benchmark: one full inbound conversation turn at rising message rates, Régua vs Rasa's own channels; and
the interleaved comparison of a baseline commit with the current checkout.

Usage (from the project root)::

    .venv/bin/python -m bench.inbound [--rates 5,10,20,30] [--duration 30]
    .venv/bin/python -m bench.inbound --rates 5 --duration 5 --systems regua,rasa_rest --output /tmp/smoke
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/regua_bench .venv/bin/python -m bench.inbound
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/regua_bench \
        .venv/bin/python -m bench.inbound compare --baseline 6927727 --runs 3 --rate 20

`compare` (bench/inbound/compare.py) checks the baseline out as a git worktree outside the repository and
runs, interleaved (baseline, change, baseline, change, ...), `--runs` runs per side at `--rate` on a fresh
PostgreSQL database each, every run starting that tree's own processes and measuring Régua and then Rasa's
bare REST turn on that tree's Rasa; it writes ``bench/results/inbound-compare.md`` and ``.json`` (each run,
the medians per side, issue 15's goals). Everything below holds for both commands.

Three systems answer the same debtors' messages, on the same trained model and this machine:

* ``regua``: a signed Twilio-style webhook POST to Régua's web app (gunicorn) → message saved → answered
  inline, in the same request, within its time budget (webhooks/twilio.py, docs/conversation.md):
  conversation claimed, Rasa's REST channel → action server (which reads the debtor's invoices from the
  database) → replies saved → handed back to Twilio as TwiML in the webhook's response (one ``<Message
  action=".../status?reply=<id>">`` each), or, for more than ten replies, sent with Twilio's REST API to a
  local stand-in before an empty response. Only what the request could not finish (Rasa down or slow, a
  burst beyond the budget, a conversation claimed by another request) is left pending and goes to the RQ
  ``default`` queue (``services.later.process``) for a worker; the breakdown counts how many messages took
  that path. Latency: from just before the webhook POST until the *last* reply of that message was handed
  to Twilio: the webhook's response for the replies it carries as TwiML (matched to the reply rows by the
  ids in their ``action`` URLs), the stand-in's answer for replies sent through the API (recorded by
  `bench/twilio_recorder.py`, a recording proxy in front of the stand-in, matched to the reply rows'
  provider SIDs in the database). Answered by a worker, it is later. Either way it is when the debtor's
  answer left, whoever sent it. No polling is involved in the number. After each run the bench plays
  Twilio's part for the TwiML replies (a fresh SID each, its signed ``sent`` callback posted to the
  ``action`` URL, outside the measured time) and checks that Régua recorded every SID.
* ``rasa_rest``: the bare Rasa REST channel turn, ``POST /webhooks/rest/webhook`` on the same Rasa server
  Régua uses (same action server, same Redis tracker and lock stores), with Régua's conversation id as the
  sender, so the custom actions find the debtor and read the database exactly as in a Régua turn.
  Latency: the HTTP response time.
* ``rasa_twilio``: Rasa's built-in ``twilio`` input channel on a second Rasa process with the same model,
  endpoints and action server; its output channel's REST calls are redirected to the same recording proxy
  by a ``sitecustomize.py`` the bench writes into a temp dir on that process's PYTHONPATH. Rasa's channel
  sends the replies before it answers the webhook (``await on_new_message(...)`` then ``204``), so the
  latency is the webhook's response time. Its sender id is the ``From`` address, which Régua's actions do
  not know, so they answer the short "unknown number" text without reading invoices: a lighter turn.

The local Twilio stand-in (``--stand-in builtin``, the default) is ``bench/twilio_recorder.py``: a small
aiohttp server that answers ``Messages.json`` creates as Twilio does for these parameters (auth, required
``To``/``From``/``Body`` or ``MediaUrl``, limits; a fresh SID per message) and records each request. Prism
(``@stoplight/prism-cli`` serving Twilio's OpenAPI description ``../shared/twilio-oai/twilio_api_v2010.json``
in place, dynamic mock mode) was the first choice and is still available with ``--stand-in prism`` (it is
npm-installed into ``var/bench/prism`` on first use, and the same recorder sits in front of it), but it is
not the default because (1) it refuses valid Twilio requests: Twilio's client sends a list parameter as
repeated form keys (``MediaUrl=a``), which Prism 5.16 rejects with 422 "must be array" (Régua's "segunda
via" sends the Pix QR code and the boleto barcode as images on WhatsApp; the recorder rewrites the key to
``MediaUrl[]`` to work around it), and (2) it costs ~6 ms of CPU per message on this 2-core machine,
competing with the systems under test (Twilio's real API costs us no CPU). Nothing leaves 127.0.0.1.
The stand-in answers at once unless ``--twilio-latency-ms`` holds every answer as long as the real API
would take: Régua (inline) and Rasa's twilio channel send a turn's replies one after the other before they
answer the webhook, so that latency adds up per reply in their numbers and in how long a gunicorn thread
is busy per turn.

Load is open-loop: message *i* of a run is sent at ``start + i / rate`` by a thread pool, whatever the
answers. Each run lasts ``--duration`` seconds; debtors are fresh for every (system, rate) and each sends a
three-message conversation (a greeting; "quanto devo" or a payment question; "segunda via", the other
question or thanks) spread over the run, so conversations run in parallel and never trip the reply-loop
guard. After sending, the bench waits up to ``--settle-timeout`` seconds for every turn to complete.

* errors: a non-2xx answer or an exception (timeout, refused) on the request side.
* lost: a message without a complete reply by the end of the settle time (regua: not processed, no reply,
  or a reply neither in a TwiML response nor accepted by the stand-in; rasa_rest: no bot message in the
  answer; rasa_twilio: no reply accepted by the stand-in during the webhook call). A message with an
  error is also lost.
* duplicates: messages that got a reply twice (the same reply text twice for one message, a provider SID
  twice, a reply row in two TwiML responses or in one and at the stand-in too, or the stand-in receiving
  a reply more often than the database holds it).

The scratch database is a SQLite file under ``var/bench/`` unless ``DATABASE_URL`` points at PostgreSQL;
then a scratch database ``regua_bench_inbound_<pid>`` (``regua_bench_<side>_<run>_<pid>`` per comparison
run) is created on that server and dropped at the end. The tree under test migrates it and loads the demo
creditor through its own CSV import (``tree_seed.py``, run with that tree's interpreter in its root), so the
schema is always that tree's; the bench reads back only columns every version has.
Redis is ``REDIS_URL`` (default ``redis://127.0.0.1:6379``) with database ``--redis-db`` (13), which is
flushed at the start and at the end (only that database). Processes are started from the tree under test,
in its root with its interpreter (``python -m bot.cli web|worker|actions|rasa-server``: its Procfile's
``regua ...`` commands, with that tree's ``bot`` rather than the one the shared ``.venv`` has installed),
each in its own process group (bench/inbound/processes.py), and stopped at the end, on Ctrl+C too. Régua
runs ``--web-concurrency`` gunicorn processes (WEB_CONCURRENCY; 4 threads each, fixed by ``regua web``),
which do the answering now, and ``--workers`` RQ workers, which only take the fallback work, the retries
and the minute sweep.
Results: ``bench/results/inbound.json`` and ``bench/results/inbound.md``; logs in ``var/bench/run-*/``
(``var/bench/compare-*/`` for a comparison).

Modules: ``cli`` (options, the two commands), ``session`` (a session at rising rates; one measured run),
``compare`` and ``compare_report`` (the interleaved comparison and its report), ``load`` (what debtors write,
the open-loop generator), ``data`` and ``tree_seed`` (scratch databases, the debtors), ``processes`` and
``stack`` (starting what is measured), ``twilio_side`` (Twilio's part: signed webhooks, TwiML, callbacks,
the stand-in's records), ``systems`` (one run per system), ``settle`` (Régua's side read back: settling,
draining, the time breakdown), ``measure`` (percentiles, CPU accounting), ``report`` and ``profiling``.
The bench imports product code only to read Régua's database (``bot.models``) and for the settings of the
stack it starts; nothing from ``tests/``.
"""
