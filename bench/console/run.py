"""One benchmark session: options, the data, the web app under gunicorn, the agents, the two measurements
(page server times; a new message reaching the agent's page), and the report."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import redis
import requests
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.console import seed
from bench.console.agents import AgentPage, Timed, login, timed_get
from bench.console.report import DELIVERY_GOAL_S, goals, summary, write
from bench.inbound.constants import (
    BENCH_VAR,
    PROJECT_ROOT,
    RESULTS,
    SECRET_KEY,
    console,
    twilio_environment,
)
from bench.inbound.measure import foreign_share, host_busy_share, wait_for_idle
from bench.inbound.processes import (
    CURRENT,
    RunningProcess,
    cpu_seconds,
    free_port,
    start_process,
    stop_all,
    wait_until,
)
from bench.inbound.stack import web_ready
from bench.inbound.twilio_side import inbound_form, post_inbound
from bot.db import Database
from bot.models import Conversation, ConversationState, Debtor, Invoice, utcnow

WEB_THREADS = 4  # fixed by `regua web`
# gunicorn's access log line for each request, with its duration in microseconds and the bench's tag.
ACCESS_FORMAT = "ACCESS %(s)s %(D)s %(a)s"
_ACCESS = re.compile(r"ACCESS (\d{3}) (\d+) console-bench-(\w+)-\d+")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--database", default="regua_bench_console", help="database on DATABASE_URL's server")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database (flushed at start and end)")
    parser.add_argument("--conversations", type=int, default=seed.Sizes.conversations)
    parser.add_argument("--messages", type=int, default=seed.Sizes.messages)
    parser.add_argument("--agents", type=int, default=seed.Sizes.agents)
    parser.add_argument("--page-requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--inbound", type=int, default=200, help="debtor messages sent to the agents")
    parser.add_argument("--rate", type=float, default=2.0, help="debtor messages per second")
    parser.add_argument("--web-concurrency", type=int, default=2, help="gunicorn processes (WEB_CONCURRENCY)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        help="seconds to wait for other processes to quiet down first",
    )
    return parser.parse_args(argv)


def database_url(name: str) -> str:
    """The bench's database on the PostgreSQL server DATABASE_URL names."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgresql"):
        raise SystemExit("bench.console needs DATABASE_URL=postgresql://... (the server to seed on)")
    return make_url(configured).set(database=name).render_as_string(hide_password=False)


def book(database: Database) -> dict[str, int]:
    """What the database holds, by kind."""
    with database.session() as session:
        states = dict(
            session.execute(select(Conversation.state, func.count()).group_by(Conversation.state)).all()
        )
        return {
            "conversations": sum(states.values()),
            **{state.value: int(states.get(state, 0)) for state in ConversationState},
            "messages": session.scalar(text("SELECT count(*) FROM messages")) or 0,
            "debtors": session.scalar(select(func.count()).select_from(Debtor)) or 0,
            "invoices": session.scalar(select(func.count()).select_from(Invoice)) or 0,
        }


def addresses(database: Database, ids: list[int]) -> dict[int, str]:
    """The Twilio `From` of each conversation (a debtor writing from WhatsApp)."""
    with database.session() as session:
        rows = session.execute(select(Conversation.id, Conversation.address).where(Conversation.id.in_(ids)))
        return {cid: f"whatsapp:{address}" for cid, address in rows}


@contextlib.contextmanager
def running_web(args: argparse.Namespace, url: str, run_dir: Path) -> Iterator[tuple[RunningProcess, str]]:
    """`regua web` (gunicorn) from this checkout against `url`, its access log with durations; yields its
    process and URL. No Rasa, action server or worker: a conversation a person owns never asks them."""
    port = free_port()
    base = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    redis_url = base._replace(path=f"/{args.redis_db}").geturl()
    redis.Redis.from_url(redis_url).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "RASA_", "PYTHONPATH"))}
    env.update(
        REGUA_ENV="test",
        LOG_LEVEL="WARNING",
        REGUA_VAR_DIR=str(run_dir / "var"),
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        WEB_PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SECRET_KEY=SECRET_KEY,
        WEB_CONCURRENCY=str(args.web_concurrency),
        INBOUND_RATE_LIMIT="100000/minute",
        GUNICORN_CMD_ARGS=f"--access-logformat='{ACCESS_FORMAT}'",
        **twilio_environment(),
    )
    command = [str(CURRENT.python), "-m", "bot.cli", "web"]
    try:
        with start_process("web", command, run_dir / "logs", env, cwd=CURRENT.root) as web:
            web_url = f"http://127.0.0.1:{port}"
            wait_until(web, web_ready(web_url), "/health/ready", 60)
            yield web, web_url
            console.print(f"  web CPU: {cpu_seconds(web):.1f} s")
    finally:
        stop_all()
        redis.Redis.from_url(redis_url).flushdb()


def server_times(log_file: Path) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Per request kind (the tag), gunicorn's durations in seconds and the count of non-2xx answers."""
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for line in log_file.read_text(errors="replace").splitlines():
        found = _ACCESS.search(line)
        if found:
            status, micros, kind = int(found.group(1)), int(found.group(2)), found.group(3)
            times[kind].append(micros / 1e6)
            if status >= 400:
                errors[kind] += 1
    return times, errors


def time_pages(web_url: str, pages: list[AgentPage], supervisor: requests.Session, n: int) -> list[Timed]:
    """`n` requests of each page, one after the other, rotating over the agents (each opens one of their
    conversations other than the one left open)."""
    timed = []

    def get(session: requests.Session, path: str, kind: str) -> None:
        try:
            timed.append(timed_get(session, f"{web_url}{path}", kind)[0])
        except requests.RequestException:  # counted as an error (status 0), the run goes on
            timed.append(Timed(f"console-bench-{kind}-0", 0, 0.0))

    for i in range(n):
        page = pages[i % len(pages)]
        owned = page.person.owned
        other = owned[1 + (i // len(pages)) % (len(owned) - 1)] if len(owned) > 1 else owned[0]
        get(page.session, "/console/", "queue_agent")
        get(supervisor, "/console/", "queue_supervisor")
        get(page.session, f"/console/conversas/{other}", "conversation")
    return timed


def cpu_costs(
    web: RunningProcess, database: str, web_url: str, page: AgentPage, supervisor: requests.Session, n: int
) -> dict[str, float]:
    """CPU milliseconds per request (web app + PostgreSQL) of each page and poll, `n` of each one at a time
    while nothing else of the bench runs: what a request costs, whatever else the machine is doing."""
    conversation = f"/console/conversas/{page.conversation_id}"
    kinds = {
        "queue_agent": (page.session, "/console/"),
        "queue_supervisor": (supervisor, "/console/"),
        "conversation": (page.session, conversation),
        "novas": (page.session, f"{conversation}/novas?after={page.after}&notes_after=0"),
        "novidades": (page.session, "/console/novidades"),
    }
    costs = {}
    for kind, (session, path) in kinds.items():
        before = cpu_seconds(web) + postgres_cpu(database)
        for _ in range(n):
            timed_get(session, f"{web_url}{path}", "cost")
        costs[kind] = round((cpu_seconds(web) + postgres_cpu(database) - before) / n * 1000, 1)
    return costs


def deliver(web_url: str, pages: list[AgentPage], senders: dict[int, str], count: int, rate: float) -> dict:
    """Send `count` debtor messages at `rate`/s, round robin into the agents' open conversations, through
    the signed webhook; wait for each to come back on its page. Latencies in seconds."""
    webhook = requests.Session()
    webhook.headers["User-Agent"] = "console-bench-webhook-0"
    sent: list[tuple[float, Any]] = []
    failures = [0]

    def send(i: int) -> None:
        page = pages[i % len(pages)]
        token = f"(ref. {i:05d})"
        sighting = page.expect(token)
        form = inbound_form(senders[page.conversation_id], f"Oi, ainda aguardo o retorno {token}")
        started = time.monotonic()
        sent.append((started, sighting))
        try:
            if not post_inbound(web_url, form, webhook).ok:
                failures[0] += 1
        except requests.RequestException:
            failures[0] += 1

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(send, i)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and any(s.page is None for _, s in sent):
        time.sleep(0.2)
    page_latency = [s.page - t for t, s in sent if s.page is not None]
    alert_latency = [s.alert - t for t, s in sent if s.alert is not None]
    return {
        "sent": len(sent),
        "page": summary(page_latency),
        "alert": summary(alert_latency),
        "lost": sum(1 for _, s in sent if s.page is None),
        "webhook_errors": failures[0],
        "timeout_s": TIMEOUT_S,
    }


TIMEOUT_S = 4 * DELIVERY_GOAL_S + 2  # a message not on its page by then is lost
COST_REQUESTS = 30  # requests of each kind whose CPU is measured


def machine(database: Database, busy: float) -> dict[str, Any]:
    """What the numbers were measured on."""
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    with database.engine.connect() as conn:
        postgres = str(conn.scalar(text("SHOW server_version")))
    return {
        "cpus": psutil.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": f"Python {platform.python_version()}",
        "postgres": f"PostgreSQL {postgres}",
        "busy_share": busy,
    }


def our_cpu(database: str) -> float:
    """CPU seconds of the bench's own process (its agents' and debtors' threads) and of the PostgreSQL
    backends serving `database` (the web app's connections)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + postgres_cpu(database)


def postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to `database` right now."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info.get("name") == "postgres" and database in " ".join(proc.info.get("cmdline") or []):
            with contextlib.suppress(psutil.Error):
                cpu = proc.cpu_times()
                total += cpu.user + cpu.system
    return total


def commit() -> str:
    """The checkout's commit (short), with `+` when it has uncommitted changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every goal is met, 1 otherwise."""
    args = parse_args(argv)
    url = database_url(args.database)
    sizes = seed.Sizes(args.conversations, args.messages, args.agents)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    seed.ensure_database(url)
    console.print(f"seeding {args.database} (skipped when the data is there) ...")
    began = time.monotonic()
    seeded = seed.seed(url, sizes, utcnow())
    seed_seconds = round(time.monotonic() - began, 1)
    database = Database(url)
    agents, boss = seed.people(database, args.agents)
    senders = addresses(database, [a.owned[0] for a in agents])
    run_dir = BENCH_VAR / f"console-{os.getpid()}"
    stop = threading.Event()
    with running_web(args, url, run_dir) as (web, web_url):
        log_file = web.log_file
        console.print(f"web app at {web_url}; logging {len(agents)} agents in ...")
        pages = [
            AgentPage(a, web_url, a.owned[0], login(web_url, a.email), stop, phase=n / len(agents))
            for n, a in enumerate(agents)
        ]
        supervisor = login(web_url, boss.email)
        for page in pages:
            page.open()
        threads = [t for page in pages for t in page.threads()]
        for thread in threads:
            thread.start()
        time_pages(web_url, pages, supervisor, 10)  # warm-up: templates compiled, connections open
        ours = lambda: cpu_seconds(web) + our_cpu(args.database)  # noqa: E731
        wait_for_idle(ours, time.monotonic() + args.wait_idle)
        host, ours_before = psutil.cpu_times(), ours()
        console.print(f"timing the pages ({args.page_requests} requests each) ...")
        timed = time_pages(web_url, pages, supervisor, args.page_requests)
        console.print(f"sending {args.inbound} debtor messages at {args.rate:g}/s ...")
        delivery = deliver(web_url, pages, senders, args.inbound, args.rate)
        host_after = psutil.cpu_times()
        busy = host_busy_share(host, host_after)
        foreign = foreign_share(host, host_after, ours_before, ours())
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        console.print("measuring what each request costs ...")
        costs = cpu_costs(web, args.database, web_url, pages[0], supervisor, COST_REQUESTS)
    times, errors = server_times(log_file)
    client: dict[str, list[float]] = defaultdict(list)
    for t in timed:
        if t.status == 0:
            errors[t.tag.split("-")[2]] += 1  # no answer at all: not in the access log
        else:
            client[t.tag.split("-")[2]].append(t.seconds)
    warmup = 10  # the warm-up's requests of each page are left out of the server times too
    result: dict[str, Any] = {
        "started_at": started_at,
        "commit": commit(),
        "machine": {**machine(database, busy), "foreign_share": foreign},
        "data": {
            **book(database),
            "seeded": seeded,
            "seed_seconds": seed_seconds,
            "long_thread": seed.LONG_THREAD,
        },
        "agents": len(agents),
        "web_concurrency": args.web_concurrency,
        "web_threads": WEB_THREADS,
        "page_requests": args.page_requests,
        "rate": args.rate,
        "server": {
            kind: summary(values[warmup:] if kind in client else values)
            for kind, values in sorted(times.items())
        },
        "client": {kind: summary(values) for kind, values in client.items()},
        "errors": dict(errors),
        "cpu_ms": costs,
        "cost_requests": COST_REQUESTS,
        "delivery": delivery,
        "polls": sum(p.polls for p in pages),
        "poll_errors": sum(p.errors for p in pages),
        "poll_error_kinds": dict(sum((p.error_kinds for p in pages), Counter())),
        "notes": NOTES,
    }
    database.dispose()
    result["goals"] = goals(result)
    data_file, report_file = write(result, args.output)
    for goal in result["goals"]:
        console.print(f"  {'met' if goal['met'] else 'MISSED'}: {goal['goal']} — {goal['measured']}")
    console.print(f"report: {report_file} ({data_file.name})")
    return 0 if all(g["met"] for g in result["goals"]) else 1


NOTES = [
    "Only the web app runs (`regua web`: gunicorn, 4 threads per process): a message in a conversation a "
    "person owns is stored for that person and never goes to Rasa, the action server or a worker "
    "(bot/conversation/decide.py), so they are not started.",
    "All agents connect from 127.0.0.1 and the bench, the web app and PostgreSQL share the machine's cores.",
    "The agents' polling runs during both measurements, each agent with one of their conversations open "
    "(`novas` every second, `novidades` every 3 s, skipping a tick while the previous poll still runs, as "
    "console.js and console-notify.js do).",
]
