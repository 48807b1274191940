"""Benchmark: the régua — planning 1,000,000 open invoices, and the dispatch rate held by two dispatchers.

Usage (from the project root)::

    .venv/bin/python bench/reminders.py [--invoices 1000000] [--rates 80,200] [--duration 40]
    .venv/bin/python bench/reminders.py --invoices 20000 --duration 10      # a quick check

1. **Planning.** A scratch schema in PostgreSQL (`--database-url`, default the local `test` database;
   created, migrated with `bot.migrations.upgrade` and dropped by the bench) gets one creditor on Régua's
   default cadence (D-3, D+1, D+5, D+10), `--debtors` debtors and `--invoices` open invoices, loaded with
   COPY and ANALYZEd. The due dates are spread over the twelve days that put *every* invoice on one of
   its steps' planning window (step day = due date + offset within today and the two catch-up days), so
   the planner's work covers the whole million: one outbox row per invoice. `planner.plan(session, day)`
   is timed, commit included; then timed again (the scheduler plans every 30 s: the second run creates
   nothing and must be cheap too), and the largest step's INSERT ... SELECT is EXPLAIN ANALYZEd (on an
   emptied outbox, rolled back).
2. **Dispatch rate.** For each rate in `--rates`: a fresh creditor on a one-step cadence whose window is
   the legal one, `rate x --duration` new debtors (São Paulo numbers, WhatsApp consent given, so every
   message is a WhatsApp template at `WHATSAPP_SEND_RATE`) with one invoice each due in three days,
   planned for the day; then `--workers` dispatcher processes (`bench/reminders_child.py`: the real
   `bot.reminders.jobs.dispatch_reminders` job run back to back, `TwilioSender` with credentials-shaped
   settings,
   the shared `SendRate`s in Redis `--redis-url`) send the campaign to the local Twilio stand-in
   (`bench/reminders_standin.py`: `bench/twilio_recorder.py`'s Twilio look-alike plus template
   messages), with time ticking from Monday 2026-12-07 10:00 in Brasília. The achieved rate is what the
   stand-in accepted per second over the steady part (the first and last `--trim` seconds excluded).
   Duplicates are counted at the stand-in (a debtor's number messaged twice, a SID given twice) and in
   the database (a provider SID on two messages). Memory: the RSS of each dispatcher when it is ready,
   sampled while it sends, and at its end.

Results: bench/results/reminders.json and bench/results/reminders.md. The Redis database of
`--redis-url` is flushed before and after each run (use a spare one: the default is /12).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
import requests
import time_machine
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH.parent
if str(PROJECT_ROOT) not in sys.path:  # `python bench/reminders.py` puts bench/ first, not the project
    sys.path.insert(0, str(PROJECT_ROOT))

from bot import migrations  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.models import Message, OutboxEntry, OutboxStatus  # noqa: E402
from bot.reminders import planner  # noqa: E402

RESULTS = BENCH / "results"
# Monday 2026-12-07 (no national or São Paulo holiday), 10:00 in Brasília: inside the legal window.
PLAN_DAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
# Due dates (days from PLAN_DAY) whose step day, for the default cadence (D-3, D+1, D+5, D+10), falls on
# PLAN_DAY or one of the two catch-up days before it: every invoice has exactly one step to plan.
DUE_OFFSETS = [1, 2, 3, -1, -2, -3, -5, -6, -7, -10, -11, -12]
ACCOUNT_SID = "AC" + "5e" * 16
AUTH_TOKEN = "bench-stand-in-token-0123456789"
WHATSAPP_FROM = "whatsapp:+5511999990000"
SMS_FROM = "+5511999990001"
GOAL_PLAN_SECONDS = 60.0
GOAL_RATE_TOLERANCE = 0.05
# Memory is flat when a dispatcher's RSS grows by at most this much from a quarter of its run to its end.
GOAL_RSS_GROWTH_MB = 3.0
# Other benchmarks, and Rasa test/train runs (`rasa test`, `rasa_seeded.py test nlu`...), distort the numbers.
BUSY_PATTERN = re.compile(r"bench[/.]inbound|(?:^|[/\s])rasa\S*\s+(test|train)\b")
# Before a measurement, wait while processes the bench did not start use more than this share of the machine.
FOREIGN_BUSY = 0.15
_AREAS = [  # DDD, UF, time zone
    (11, "SP", "America/Sao_Paulo"), (21, "RJ", "America/Sao_Paulo"), (31, "MG", "America/Sao_Paulo"),
    (41, "PR", "America/Sao_Paulo"), (51, "RS", "America/Sao_Paulo"), (61, "DF", "America/Sao_Paulo"),
    (71, "BA", "America/Bahia"), (81, "PE", "America/Recife"), (85, "CE", "America/Fortaleza"),
    (92, "AM", "America/Manaus"), (65, "MT", "America/Cuiaba"), (68, "AC", "America/Rio_Branco"),
]  # fmt: skip
_FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Hugo", "Íris", "João"]
_LAST_NAMES = ["Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Rodrigues", "Almeida"]
BENCH_CADENCE = """
version: 1
name: {name}
limits: {{per_day: 1, per_week: 3}}
steps:
  - id: lembrete_d-3
    offset_days: -3
    tone: amigavel
    channels: [whatsapp, sms]
    whatsapp:
      content_sid: HX1234567890abcdef1234567890abcdef
      variables: {{"1": "{{nome}}", "2": "{{valor}}", "3": "{{data}}", "4": "{{credor}}", "5": "{{cnpj}}",
                  "6": "{{link}}"}}
    sms: >-
      Olá, {{nome}}! Lembrete: sua fatura de {{valor}} com {{credor}} (CNPJ {{cnpj}}) vence em {{data}}.
      Para pagar, acesse {{link}}. Para não receber mais, responda PARAR.
"""


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---- documents and data ----------------------------------------------------------------------------------


def cpf(n: int) -> str:
    """A valid CPF, different for every n < 800,000,000 (check digits computed here)."""
    digits = [int(c) for c in f"{100_000_000 + n:09d}"]
    for length in (9, 10):
        total = sum(d * (length + 1 - i) for i, d in enumerate(digits[:length]))
        digits.append((total * 10) % 11 % 10)
    return "".join(map(str, digits))


def cnpj(n: int) -> str:
    """A valid CNPJ (headquarters, 0001), different for every n < 90,000,000."""
    digits = [int(c) for c in f"{10_000_000 + n:08d}0001"]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(map(str, digits))


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows: Iterator[str]) -> None:
    """COPY text rows (tab-separated lines) into `table`, in large chunks."""
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[str] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= 50_000:
                copy.write("".join(chunk))
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))


def _next_id(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0]  # type: ignore[index]


def _set_sequences(conn: psycopg.Connection, tables: list[str]) -> None:
    for table in tables:
        top = f"(SELECT COALESCE(MAX(id), 1) FROM {table})"
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")


def add_creditor(conn: psycopg.Connection, number: int, cadence_yaml: str | None) -> int:
    """A creditor with its own Pix key (so reminders carry a BR Code of the amount, as in production)."""
    document = cnpj(number)
    row = conn.execute(
        "INSERT INTO creditors (legal_name, trade_name, cnpj, contact_channel, pix_key, city, cadence_yaml,"
        " fine_bps, monthly_interest_bps, claim_pause_days, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 200, 100, 5, now(), now()) RETURNING id",
        (f"Bench Crédito {number} Ltda", f"Bench Crédito {number}", document, "SAC 0800 000 0000",
         document, "SAO PAULO", cadence_yaml),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def add_debtors(
    conn: psycopg.Connection,
    count: int,
    *,
    first_number: int,
    areas: list[tuple[int, str, str]],
    consent: bool,
) -> tuple[int, list[str]]:
    """COPY `count` debtors (valid unique CPFs, unique mobile numbers); returns the first id, the phones."""
    first_id = _next_id(conn, "debtors")
    consent_at = "2026-01-05 12:00:00+00" if consent else "\\N"
    phones: list[str] = []

    def rows() -> Iterator[str]:
        for i in range(count):
            n = first_number + i
            ddd, state, zone = areas[n % len(areas)]
            phone = f"+55{ddd}9{n:08d}"
            phones.append(phone)
            name = f"{_FIRST_NAMES[n % 10]} {_LAST_NAMES[n // 10 % 9]} {n}"
            yield (
                f"{first_id + i}\t{name}\t{cpf(n)}\t{phone}\t{state}\t{zone}\t{consent_at}\t"
                "2026-11-01 12:00:00+00\t2026-11-01 12:00:00+00\n"
            )

    _copy(
        conn, "debtors",
        ["id", "name", "cpf", "phone", "state", "timezone", "whatsapp_consent_at", "created_at",
         "updated_at"],
        rows(),
    )  # fmt: skip
    return first_id, phones


def add_invoices(
    conn: psycopg.Connection,
    count: int,
    *,
    creditor_id: int,
    debtor_ids: range,
    due_dates: list[date],
    seed: int,
) -> None:
    """COPY `count` open invoices: invoice i is debtor_ids[i mod n]'s, due on due_dates[i mod m]."""
    rng = random.Random(seed)
    first_id = _next_id(conn, "invoices")

    def rows() -> Iterator[str]:
        for i in range(count):
            debtor = debtor_ids[i % len(debtor_ids)]
            due = due_dates[i % len(due_dates)]
            cents = rng.randint(1_000, 500_000)
            yield (
                f"{first_id + i}\t{creditor_id}\t{debtor}\tR-{creditor_id}-{i:07d}\t{cents}\t"
                f"{due.isoformat()}\topen\t2026-11-01 12:00:00+00\t2026-11-01 12:00:00+00\n"
            )

    _copy(
        conn, "invoices",
        ["id", "creditor_id", "debtor_id", "external_ref", "amount_cents", "due_date", "status",
         "created_at", "updated_at"],
        rows(),
    )  # fmt: skip


# ---- scratch schema, Redis, the machine -------------------------------------------------------------------


@contextlib.contextmanager
def scratch_schema(server_url: str, label: str) -> Iterator[str]:
    """A migrated, empty schema in the server's database, dropped afterwards; yields its SQLAlchemy URL."""
    schema = f"bench_reminders_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in server_url else "?"
    url = f"{server_url}{sep}options=-csearch_path%3D{schema}"
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def psycopg_connect(url: str) -> psycopg.Connection:
    """A plain psycopg connection (autocommit) for a SQLAlchemy URL."""
    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True)


def busy_processes() -> list[str]:
    """Other benchmarks or Rasa test/train runs on this machine (they would skew the measurements)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if proc.info["pid"] != os.getpid() and BUSY_PATTERN.search(cmdline):
            found.append(f"{proc.info['pid']} {cmdline[:120]}")
    return found


def machine_busy_share(seconds: float = 3.0) -> float:
    """The share of the machine's CPU in use over `seconds` (call it while the bench itself is idle)."""
    before = psutil.cpu_times()
    time.sleep(seconds)
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return 1 - idle / total if total > 0 else 0.0


def wait_until_idle(deadline: float) -> dict[str, Any]:
    """Until `deadline` (time.monotonic()), wait while another benchmark or a Rasa test/train runs, or other
    processes keep more than FOREIGN_BUSY of the machine busy; say what was found."""
    started = time.monotonic()
    found, share = busy_processes(), machine_busy_share()
    while (found or share > FOREIGN_BUSY) and time.monotonic() < deadline:
        log(f"waiting for the machine: {found[0] if found else f'{share:.0%} busy'} ...")
        time.sleep(10)
        found, share = busy_processes(), machine_busy_share()
    return {
        "waited_seconds": round(time.monotonic() - started, 1),
        "busy_with": found,
        "busy_share_before": round(share, 3),
    }


class CpuWatch:
    """CPU seconds used by every process between `start()` and `stop()`: ours, PostgreSQL's, the others'.

    Processes that end meanwhile (a dispatcher, its PostgreSQL backends) count with their last sample, so
    `sample()` is called every few seconds."""

    def __init__(self, ours: set[int]) -> None:
        self.ours = ours
        self.before: dict[int, tuple[str, float]] = {}
        self.latest: dict[int, tuple[str, float]] = {}
        self.started = 0.0
        self.system_before = psutil.cpu_times()

    @staticmethod
    def _snapshot() -> dict[int, tuple[str, float]]:
        snap = {}
        for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
            times = proc.info.get("cpu_times")
            if times is None:
                continue
            cmdline = " ".join(proc.info.get("cmdline") or []) or (proc.info.get("name") or "")
            snap[proc.info["pid"]] = (cmdline[:100], times.user + times.system)
        return snap

    def start(self) -> None:
        """Take the first snapshot."""
        self.before = self._snapshot()
        self.latest = dict(self.before)
        self.system_before = psutil.cpu_times()
        self.started = time.monotonic()

    def sample(self) -> None:
        """Remember every process's CPU time now."""
        self.latest.update(self._snapshot())

    def stop(self) -> dict[str, Any]:
        """CPU seconds per group since `start()`, the machine's busy share, the busiest other processes."""
        self.sample()
        wall = time.monotonic() - self.started
        system = psutil.cpu_times()
        total = sum(system) - sum(self.system_before)
        idle = (system.idle + system.iowait) - (self.system_before.idle + self.system_before.iowait)
        groups: Counter[str] = Counter()
        others: Counter[str] = Counter()
        for pid, (cmdline, seconds) in self.latest.items():
            used = seconds - self.before.get(pid, (cmdline, 0.0))[1]
            if used <= 0:
                continue
            if pid in self.ours:
                groups["bench, stand-in and dispatchers"] += used
            elif cmdline.startswith("postgres"):
                groups["postgresql"] += used
            elif "redis-server" in cmdline:
                groups["redis"] += used
            else:
                groups["other processes"] += used
                others[cmdline] += used
        cores = psutil.cpu_count() or 1
        return {
            "wall_seconds": round(wall, 1),
            "cores": cores,
            "machine_busy_percent": round(100 * (1 - idle / total), 1) if total > 0 else None,
            # CPU used by processes the bench did not start (PostgreSQL and Redis excepted), of the machine.
            "foreign_share": round(groups["other processes"] / (wall * cores), 3) if wall > 0 else 0.0,
            "cpu_seconds": {k: round(v, 1) for k, v in groups.items()},
            "busiest_others": [[name, round(sec, 1)] for name, sec in others.most_common(4) if sec >= 1.0],
        }


# ---- 1. planning -------------------------------------------------------------------------------------------


def run_planning(args: argparse.Namespace) -> dict[str, Any]:
    """Load the portfolio, then time the planner (and a second, idempotent run)."""
    result: dict[str, Any] = {}
    with scratch_schema(args.database_url, "plan") as url:
        conn = psycopg_connect(url)
        started = time.perf_counter()
        creditor_id = add_creditor(conn, 1, None)  # Régua's default cadence
        first_debtor, _ = add_debtors(conn, args.debtors, first_number=0, areas=_AREAS, consent=True)
        debtors_s = time.perf_counter() - started
        due_dates = [PLAN_DAY + timedelta(days=d) for d in DUE_OFFSETS]
        add_invoices(
            conn, args.invoices, creditor_id=creditor_id,
            debtor_ids=range(first_debtor, first_debtor + args.debtors), due_dates=due_dates, seed=1,
        )  # fmt: skip
        _set_sequences(conn, ["creditors", "debtors", "invoices"])
        loaded_s = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE creditors, debtors, invoices")
        analyzed_s = time.perf_counter() - started
        conn.execute("CHECKPOINT")  # the planner's WAL should not pay for the load's
        log(
            f"planning: loaded {args.debtors:,} debtors and {args.invoices:,} invoices in {loaded_s:.1f} s "
            f"(debtors {debtors_s:.1f} s), VACUUM ANALYZE {analyzed_s - loaded_s:.1f} s"
        )
        db = Database(url)
        statements: list[tuple[str, Any]] = []

        @event.listens_for(db.engine, "before_cursor_execute")
        def capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("WITH INSERTED"):
                statements.append((statement, parameters))

        idle = wait_until_idle(args.deadline)
        watch = CpuWatch({os.getpid()})
        watch.start()
        started = time.perf_counter()
        with db.session() as session:
            planned = planner.plan(session, PLAN_DAY)
            planned_s = time.perf_counter() - started
        plan_seconds = time.perf_counter() - started  # commit included
        cpu = watch.stop()
        commit_s = plan_seconds - planned_s
        log(f"planning: {planned.total:,} rows in {plan_seconds:.2f} s (commit {commit_s:.2f} s)")
        started = time.perf_counter()
        with db.session() as session:
            again = planner.plan(session, PLAN_DAY)
        again_s = time.perf_counter() - started
        log(f"planning again: {again.total:,} rows in {again_s:.2f} s")
        with db.session() as session:
            rows = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
            per_step = dict(
                session.execute(select(OutboxEntry.step_id, func.count()).group_by(OutboxEntry.step_id)).all()
            )
        claim_ms = time_claims(db)
        log(f"claiming 200 of {rows:,} due rows: {claim_ms} ms")
        explain = None
        if args.explain and statements:
            explain = explain_largest(db, statements, per_step)
        db.dispose()
        conn.close()
        result = {
            "plan_seconds": round(plan_seconds, 2),
            "plan_invoices": args.invoices,
            "plan_rows_created": planned.total,
            "plan_rows_in_outbox": rows,
            "plan_rows_per_step": per_step,
            "plan_commit_seconds": round(plan_seconds - planned_s, 2),
            "plan_again_seconds": round(again_s, 2),
            "plan_again_rows_created": again.total,
            "plan_debtors": args.debtors,
            "plan_day": PLAN_DAY.isoformat(),
            "load_seconds": round(loaded_s, 1),
            "analyze_seconds": round(analyzed_s - loaded_s, 1),
            "plan_cpu": cpu,
            "claim_ms_with_all_due": claim_ms,
            "plan_idle_check": idle,
            "plan_explain": explain,
        }
    return result


def time_claims(db: Database, times: int = 5) -> list[float]:
    """Milliseconds of `dispatch.claim` (a batch of `BATCH_SIZE`) while every planned row is due: the
    dispatchers' first question after a big planning run (the outbox's statistics predate its rows)."""
    from bot.reminders import dispatch

    found = []
    for n in range(times):
        started = time.perf_counter()
        with time_machine.travel(NOW, tick=True):
            claimed = dispatch.claim(db, f"bench-{n}")
        found.append(round(1000 * (time.perf_counter() - started), 1))
        assert len(claimed) == dispatch.BATCH_SIZE, f"claimed {len(claimed)} rows"
    return found


def explain_largest(db: Database, statements: list[tuple[str, Any]], per_step: dict[str, int]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) the invoices INSERT ... SELECT of the step with the most rows, on an
    emptied outbox, in a transaction rolled back."""
    invoice_statements = [(s, p) for s, p in statements if "FROM invoices" in s]
    step = max(per_step, key=per_step.get)  # type: ignore[arg-type]
    chosen = next(((s, p) for s, p in invoice_statements if step in json.dumps(p, default=str)), None)
    if chosen is None:
        return "(statement not captured)"
    statement, parameters = chosen
    with db.engine.connect() as conn:
        trans = conn.begin()
        conn.exec_driver_sql("TRUNCATE reminder_outbox")
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
        trans.rollback()
    return "\n".join(plan)


# ---- 2. dispatch -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def standin(workdir: Path, label: str) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """The Twilio stand-in in its own process; yields its base URL, its records file and the process."""
    records = workdir / f"standin-{label}.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "reminders_standin.py"), "--port", "0", "--out", str(records)],
        stdout=subprocess.PIPE, stderr=(workdir / f"standin-{label}.log").open("w"), text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("port "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}", records, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def probe_standin(url: str, requests_count: int = 400, threads: int = 16) -> dict[str, Any]:
    """The stand-in's own latency (sequential requests from one client) and its throughput (`threads`
    clients at once), with the same kind of request the dispatchers send."""
    endpoint = f"{url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = {
        "To": "whatsapp:+15005550006",
        "From": WHATSAPP_FROM,
        "ContentSid": "HX1234567890abcdef1234567890abcdef",
        "ContentVariables": json.dumps({"1": "Ana", "2": "R$ 150,00", "3": "10/12/2026"}),
    }

    def one(session: requests.Session) -> float:
        started = time.perf_counter()
        response = session.post(endpoint, data=form, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
        response.raise_for_status()
        return time.perf_counter() - started

    with requests.Session() as session:
        for _ in range(20):
            one(session)
        latencies = sorted(one(session) for _ in range(requests_count))
    sessions = [requests.Session() for _ in range(threads)]
    per_thread = requests_count // threads * 2
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda s: [one(s) for _ in range(per_thread)], sessions))
    burst_s = time.perf_counter() - started
    for session in sessions:
        session.close()
    return {
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "latency_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        "capacity_rps": round(per_thread * threads / burst_s),
        "capacity_clients": threads,
    }


class Dispatcher:
    """One dispatcher child process, its stdout read by a thread."""

    def __init__(
        self, env: dict[str, str], offset_seconds: float, log_path: Path, profile: Path | None
    ) -> None:
        command = [sys.executable, str(BENCH / "reminders_child.py"), f"{offset_seconds:.6f}"]
        if profile is not None:
            command += ["profile", str(profile)]
        self.log_path = log_path
        self.proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log_path.open("w"), text=True,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.samples: list[tuple[float, float]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(line))

    def expect(self, key: str, timeout: float) -> dict[str, Any]:
        """The next line with `key`, or an error with the end of the process's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            if key in line:
                return line
        raise RuntimeError(
            f"dispatcher {self.proc.pid}: no {key!r} line\n{self.log_path.read_text()[-3000:]}"
        )

    def go(self) -> None:
        """Start dispatching."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def sample(self, t: float) -> None:
        """Record the process's RSS now (MiB), while it runs."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(psutil.Error):
            rss = psutil.Process(self.proc.pid).memory_info().rss / 2**20
            if rss > 0:  # an exited process not yet reaped reads as 0
                self.samples.append((t, rss))

    def stop(self) -> None:
        """Kill it if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def load_campaign(url: str, rate: int, size: int, run: int, consent: bool) -> tuple[int, list[str], float]:
    """A creditor on the bench cadence and `size` debtors with one invoice due in three days, planned for
    PLAN_DAY. Returns the creditor id, the debtors' numbers and the planning time."""
    conn = psycopg_connect(url)
    cadence = BENCH_CADENCE.format(name=f"bench-{rate}-{run}-{os.getpid()}")
    creditor_id = add_creditor(conn, 100 + run, cadence)
    first, phones = add_debtors(
        conn,
        size,
        first_number=10_000_000 * (run + 1),
        areas=[(11, "SP", "America/Sao_Paulo")],
        consent=consent,
    )
    add_invoices(
        conn, size, creditor_id=creditor_id, debtor_ids=range(first, first + size),
        due_dates=[PLAN_DAY + timedelta(days=3)], seed=run,
    )  # fmt: skip
    _set_sequences(conn, ["creditors", "debtors", "invoices"])
    conn.execute("ANALYZE creditors, debtors, invoices, reminder_outbox, messages, conversations")
    conn.close()
    db = Database(url)
    started = time.perf_counter()
    with db.session() as session:
        planned = planner.plan(session, PLAN_DAY)
    plan_s = time.perf_counter() - started
    db.dispose()
    if planned.total != size:
        raise RuntimeError(f"planned {planned.total} rows for a campaign of {size}")
    return creditor_id, phones, plan_s


def child_env(
    args: argparse.Namespace, url: str, standin_url: str, rate: int, var_dir: Path
) -> dict[str, str]:
    """The dispatchers' environment: credentials-shaped Twilio settings pointed at the stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "DATABASE_", "REDIS_"))}
    env.update(
        REGUA_ENV="production",
        REGUA_VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        DATABASE_URL=url,
        REDIS_URL=args.redis_url,
        SECRET_KEY="bench-reminders-secret-0123456789",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_WHATSAPP_FROM=WHATSAPP_FROM,
        TWILIO_SMS_FROM=SMS_FROM,
        TWILIO_API_BASE_URL=standin_url,
        PUBLIC_BASE_URL="https://regua.example.com.br",
        WHATSAPP_SEND_RATE=str(rate),
        SMS_SEND_RATE=str(rate),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


def steady_rate(times: list[float], trim: float) -> dict[str, Any]:
    """Messages per second over [first + trim, last - trim], and the spread of whole seconds in it."""
    if len(times) < 2:
        return {"achieved_mps": 0.0, "steady_seconds": 0.0, "steady_messages": len(times)}
    times = sorted(times)
    start, end = times[0] + trim, times[-1] - trim
    if end - start < 1.0:  # too short to trim: the whole run
        start, end = times[0], times[-1]
    inside = [t for t in times if start <= t < end]
    per_second = Counter(int(t - start) for t in inside)
    whole = [per_second.get(i, 0) for i in range(int(end - start))]
    return {
        "achieved_mps": round(len(inside) / (end - start), 2),
        "steady_seconds": round(end - start, 2),
        "steady_messages": len(inside),
        "per_second_min": min(whole) if whole else None,
        "per_second_max": max(whole) if whole else None,
        "per_second_stdev": round(statistics.pstdev(whole), 2) if len(whole) > 1 else None,
        "whole_run_seconds": round(times[-1] - times[0], 2),
        "whole_run_mps": round(len(times) / max(times[-1] - times[0], 1e-9), 2),
    }


def run_dispatch(args: argparse.Namespace, url: str, rate: int, run: int, workdir: Path) -> dict[str, Any]:
    """One campaign at `rate` messages per second with `args.workers` dispatcher processes."""
    size = int(rate * args.duration)
    idle = wait_until_idle(args.deadline)
    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    creditor_id, phones, plan_s = load_campaign(url, rate, size, run, consent=args.channel == "whatsapp")
    log(f"dispatch {rate}/s: campaign of {size:,} rows planned in {plan_s:.2f} s")
    label = f"{rate}-{run}" + ("-profile" if args.profiling else "")
    with standin(workdir, label) as (standin_url, records_path, standin_proc):
        probe = probe_standin(standin_url)
        log(
            f"dispatch {rate}/s: stand-in p50 {probe['latency_ms_p50']} ms, "
            f"capacity {probe['capacity_rps']}/s"
        )
        env = child_env(args, url, standin_url, rate, workdir / "var")
        offset = (NOW - datetime.now(UTC)).total_seconds()  # one offset: every dispatcher's clock agrees
        dispatchers = [
            Dispatcher(
                env, offset, workdir / f"dispatcher-{label}-{n}.log",
                workdir / f"profile-{label}-{n}.pstats" if args.profiling else None,
            )
            for n in range(args.workers)
        ]  # fmt: skip
        try:
            ready = [d.expect("ready", 120) for d in dispatchers]
            watch = CpuWatch({os.getpid(), standin_proc.pid, *(d.proc.pid for d in dispatchers)})
            watch.start()
            started = time.monotonic()
            for d in dispatchers:
                d.go()
            deadline = started + args.duration * 6 + 120
            while any(d.proc.poll() is None for d in dispatchers) and time.monotonic() < deadline:
                for d in dispatchers:
                    d.sample(time.monotonic() - started)
                watch.sample()  # ~7 ms: processes that end keep their last CPU time
                time.sleep(0.5)
            done = [d.expect("done", 10) for d in dispatchers]
            wall = time.monotonic() - started
            cpu = watch.stop()
        finally:
            for d in dispatchers:
                d.stop()
    conn.flushdb()
    conn.close()

    records = [json.loads(line) for line in records_path.read_text().splitlines() if line.strip()]
    wanted = {f"whatsapp:{p}" if args.channel == "whatsapp" else p for p in phones}
    ours = [r for r in records if r["to"] in wanted]
    accepted = [r for r in ours if r["status"] == 201]
    refused = [r for r in ours if r["status"] != 201]
    by_recipient = Counter(r["to"] for r in accepted)
    sids = Counter(r["sid"] for r in accepted)
    server_ms = sorted(1000 * (r["t_out"] - r["t_in"]) for r in accepted)
    db_check = check_database(url, creditor_id)
    rate_stats = steady_rate([r["t_out"] for r in accepted], args.trim)
    memory = [memory_of(d, r, e, wall) for d, r, e in zip(dispatchers, ready, done, strict=True)]
    duplicates = sum(c - 1 for c in by_recipient.values() if c > 1)
    result = {
        "workers": args.workers,
        "target_mps": rate,
        "achieved_mps": rate_stats["achieved_mps"],
        "sent": len(accepted),
        "duplicates": duplicates + db_check["duplicate_provider_sids"],
        "rss_mb_start": round(sum(m["rss_mb_start"] for m in memory) / len(memory), 1),
        "rss_mb_end": round(sum(m["rss_mb_end"] for m in memory) / len(memory), 1),
        "channel": args.channel,
        "campaign_rows": size,
        "campaign_plan_seconds": round(plan_s, 2),
        "wall_seconds": round(wall, 1),
        "rate": rate_stats,
        "duplicate_recipients_at_standin": duplicates,
        "duplicate_sids_at_standin": sum(c - 1 for c in sids.values() if c > 1),
        "recipients_reached": len(by_recipient),
        "refused_by_standin": len(refused),
        "standin_server_ms_p50": round(server_ms[len(server_ms) // 2], 3) if server_ms else None,
        "standin_server_ms_max": round(server_ms[-1], 3) if server_ms else None,
        "standin_probe": probe,
        "database": db_check,
        "memory_per_worker": memory,
        "dispatchers": [
            {k: e[k] for k in ("seconds", "jobs", "stats", "cpu_seconds", "timers")} for e in done
        ],
        "cpu": cpu,
        "idle_check": idle,
    }
    log(
        f"dispatch {rate}/s: achieved {result['achieved_mps']}/s, sent {result['sent']:,}, duplicates "
        f"{result['duplicates']}, RSS {result['rss_mb_start']} -> {result['rss_mb_end']} MB, "
        f"wall {wall:.1f} s"
    )
    return result


def memory_of(d: Dispatcher, ready: dict[str, Any], done: dict[str, Any], wall: float) -> dict[str, Any]:
    """A dispatcher's RSS: ready, a quarter into the run (warmed up), the end; and the samples."""
    samples = d.samples
    warm = next((rss for t, rss in samples if t >= wall / 4), samples[-1][1] if samples else ready["rss_mb"])
    return {
        "rss_mb_start": round(ready["rss_mb"], 1),
        "rss_mb_warm": round(warm, 1),
        "rss_mb_peak": round(max([rss for _, rss in samples] + [done["rss_mb"]]), 1),
        "rss_mb_end": round(done["rss_mb"], 1),
        "growth_after_warm_mb": round(done["rss_mb"] - warm, 1),
        "samples": [[round(t, 1), round(rss, 1)] for t, rss in samples[:: max(len(samples) // 40, 1)]],
    }


def check_database(url: str, creditor_id: int) -> dict[str, Any]:
    """The campaign's rows by status, its messages and their provider SIDs."""
    db = Database(url)
    with db.session() as session:
        statuses = dict(
            session.execute(
                select(OutboxEntry.status, func.count())
                .where(OutboxEntry.creditor_id == creditor_id)
                .group_by(OutboxEntry.status)
            ).all()
        )
        message_ids = select(OutboxEntry.message_id).where(OutboxEntry.creditor_id == creditor_id)
        messages, with_sid, distinct_sids = session.execute(
            select(
                func.count(),
                func.count(Message.provider_sid),
                func.count(func.distinct(Message.provider_sid)),
            )
            .where(Message.id.in_(message_ids))
        ).one()  # fmt: skip
        per_message = (
            select(func.count().label("n"))
            .where(OutboxEntry.creditor_id == creditor_id, OutboxEntry.message_id.is_not(None))
            .group_by(OutboxEntry.message_id)
            .subquery()
        )
        rows_per_message = session.scalar(select(func.max(per_message.c.n)))
    db.dispose()
    return {
        "rows_by_status": {OutboxStatus(k).value: v for k, v in statuses.items()},
        "messages": messages,
        "messages_with_sid": with_sid,
        "duplicate_provider_sids": with_sid - distinct_sids,
        "max_rows_per_message": rows_per_message,
    }


# ---- report ------------------------------------------------------------------------------------------------


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal, the measured value and whether it was met (computed from the results)."""
    found = []
    if "plan_seconds" in result:
        found.append(
            {
                "goal": f"planning {result['plan_invoices']:,} open invoices in ≤ {GOAL_PLAN_SECONDS:.0f} s",
                "measured": f"{result['plan_seconds']:.1f} s ({result['plan_rows_created']:,} rows)",
                "met": result["plan_seconds"] <= GOAL_PLAN_SECONDS
                and result["plan_rows_created"] == result["plan_invoices"],
            }
        )
    for run in result.get("dispatch", []):
        target = run["target_mps"]
        low, high = target * (1 - GOAL_RATE_TOLERANCE), target * (1 + GOAL_RATE_TOLERANCE)
        found.append(
            {
                "goal": f"{target} msg/s held within ±5 % ({low:g}–{high:g}) by {run['workers']} dispatchers",
                "measured": f"{run['achieved_mps']:.1f} msg/s",
                "met": low <= run["achieved_mps"] <= high,
            }
        )
        lost = run["campaign_rows"] - run["recipients_reached"]
        found.append(
            {
                "goal": f"{target} msg/s: zero duplicates, every row sent exactly once",
                "measured": f"{run['duplicates']} duplicates, {lost} not sent",
                "met": run["duplicates"] == 0 and lost == 0 and run["refused_by_standin"] == 0,
            }
        )
        growth = max(m["growth_after_warm_mb"] for m in run["memory_per_worker"])
        found.append(
            {
                "goal": f"{target} msg/s: flat memory (RSS growth after warm-up ≤ {GOAL_RSS_GROWTH_MB:g} MB)",
                "measured": f"{growth:+.1f} MB (worst dispatcher)",
                "met": growth <= GOAL_RSS_GROWTH_MB,
            }
        )
    return found


def _duration(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _explain_notes(explain: str | None) -> list[str]:
    """What the planner's INSERT spends its time on, from the EXPLAIN ANALYZE text."""
    total = re.search(r"Execution Time: ([\d.]+) ms", explain or "")
    if not explain or not total:
        return []
    triggers = re.findall(r"Trigger for constraint (\S+): time=([\d.]+) calls=(\d+)", explain)
    scan = re.search(r"Scan on invoices .*?actual time=[\d.]+\.\.([\d.]+)", explain)
    total_ms = float(total.group(1))
    fk_ms = sum(float(t) for _, t, _ in triggers)
    each = ", ".join(
        f"{name.removeprefix('fk_reminder_outbox_')} {_duration(float(t))}" for name, t, _ in triggers
    )
    return [
        f"Where the planner's time goes (largest step, EXPLAIN ANALYZE, {_duration(total_ms)} in all): "
        f"reading the invoices {_duration(float(scan.group(1)) if scan else 0.0)} (a bitmap scan of the "
        f"due-date index); the foreign-key checks of the new outbox rows {_duration(fk_ms)} "
        f"({fk_ms / total_ms:.0%}; one trigger call per row and constraint: {each}); the rest is the "
        "insert itself (heap, six indexes, WAL). No index or query shape would change that much: the cost "
        "is per row written, and the foreign keys are the schema's."
    ]


def _dispatch_notes(run: dict[str, Any]) -> list[str]:
    """Where a run's time and CPU went."""
    messages = max(run["sent"], 1)
    cpu = run["cpu"]
    dispatcher_cpu = sum(d["cpu_seconds"] for d in run["dispatchers"])
    per_message_ms = 1000 * dispatcher_cpu / messages
    needed = per_message_ms * run["target_mps"] / 1000
    pg_share = cpu["cpu_seconds"].get("postgresql", 0.0) / max(cpu["wall_seconds"], 1e-9)
    timers: dict[str, float] = {}
    for d in run["dispatchers"]:
        for name, t in d["timers"].items():
            timers[name] = timers.get(name, 0.0) + t["seconds"]
    phases = ", ".join(f"{name} {1000 * sec / messages:.2f} ms" for name, sec in timers.items())
    busy = f"other processes {cpu['foreign_share']:.0%} of the machine ({cpu['machine_busy_percent']}% busy)"
    note = (
        f"{run['target_mps']} msg/s: the dispatchers used {per_message_ms:.1f} ms of CPU per message "
        f"({needed:.2f} cores at the target rate), PostgreSQL {pg_share:.2f} cores on average, {busy}. "
        f"Wall time per message in each phase, summed over threads and dispatchers: {phases}."
    )
    return [note]


def _memory_notes(runs: list[dict[str, Any]]) -> list[str]:
    """RSS at the end of campaigns of different sizes (a leak grows with the number of messages)."""
    if len(runs) < 2:
        return []
    parts = []
    for run in sorted(runs, key=lambda r: r["sent"]):
        ends = ", ".join(f"{m['rss_mb_end']:g}" for m in run["memory_per_worker"])
        parts.append(f"{run['sent']:,} messages: {ends} MB")
    return [
        "Dispatcher RSS at the end of each campaign (fresh processes each run): " + "; ".join(parts) + "."
    ]


def markdown(result: dict[str, Any]) -> str:
    """The report."""
    lines = [
        "# Régua benchmark: planning the régua and the dispatch rate",
        "",
        f"Generated by `bench/reminders.py` at {result['generated_at']} on revision {result['revision']} "
        f"(command: `{result['command']}`).",
        "",
        "## Goals",
        "",
        "| goal | measured | met |",
        "| --- | --- | :---: |",
    ]
    lines += [
        f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |" for g in result["goals"]
    ]
    machine = result["machine"]
    lines += [
        "",
        "## Machine and database",
        "",
        f"- {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB RAM, "
        f"Python {machine['python']}, {machine['platform']}.",
        f"- {result['database']} on the same machine, in a scratch schema (created, migrated with "
        f"`bot.migrations.upgrade`, dropped); {result['database_settings']}.",
        f"- Redis {result['redis']} on the same machine (its database flushed before and after each run).",
        f"- Other work on the machine: {result['machine_busy']}",
        "",
    ]
    if "plan_seconds" in result:
        lines += _planning_section(result)
    if result.get("dispatch"):
        lines += _dispatch_section(result)
    notes = list(result.get("notes", []))
    notes += _explain_notes(result.get("plan_explain"))
    for run in result.get("dispatch", []):
        notes += _dispatch_notes(run)
    notes += _memory_notes(result.get("dispatch", []))
    if notes:
        lines += ["## Notes", ""]
        lines += [f"- {note}" for note in notes]
        lines.append("")
    return "\n".join(lines)


def _planning_section(result: dict[str, Any]) -> list[str]:
    cpu = result["plan_cpu"]["cpu_seconds"]
    per_step = ", ".join(f"{k} {v:,}" for k, v in sorted(result["plan_rows_per_step"].items()))
    lines = [
        "## 1. Planning",
        "",
        f"One creditor on Régua's default cadence (D-3, D+1, D+5, D+10), {result['plan_debtors']:,} debtors "
        f"and {result['plan_invoices']:,} open invoices, loaded with COPY in {result['load_seconds']} s and "
        f"`VACUUM ANALYZE`d ({result['analyze_seconds']} s). The due dates are spread over the twelve days "
        "that put every invoice inside one step's planning window (step day = due date + offset = the "
        "planning day or one of the two catch-up days before it), so the planner's work covers the whole "
        "portfolio: one outbox row per invoice. That is the worst case: with due dates spread over months, a "
        "few percent of the invoices have a step on a given day.",
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| `planner.plan(session, {result['plan_day']})`, commit included "
        f"| **{result['plan_seconds']:.2f} s** |",
        f"| of which the commit | {result['plan_commit_seconds']:.2f} s |",
        f"| rows created | {result['plan_rows_created']:,} ({per_step}) |",
        f"| rows per second | {result['plan_rows_created'] / max(result['plan_seconds'], 1e-9):,.0f} |",
        "| planning again (the scheduler's next tick: every row conflicts) "
        f"| {result['plan_again_seconds']:.2f} s,"
        f" {result['plan_again_rows_created']} rows |",
        f"| CPU seconds while planning | {', '.join(f'{k} {v}' for k, v in cpu.items())} |",
        "| then `dispatch.claim` of a batch while all these rows are due, ms (5 claims) "
        f"| {', '.join(f'{ms:g}' for ms in result.get('claim_ms_with_all_due', []))} |",
        "",
    ]
    if result.get("plan_explain"):
        lines += [
            "EXPLAIN (ANALYZE, BUFFERS) of the largest step's INSERT ... SELECT, as the planner sends it "
            "(re-run on an emptied outbox, in a transaction rolled back):",
            "",
            "```",
            result["plan_explain"],
            "```",
            "",
        ]
    return lines


def _dispatch_section(result: dict[str, Any]) -> list[str]:
    lines = [
        "## 2. Dispatch rate",
        "",
        result["dispatch_method"],
        "",
        "| dispatchers | target msg/s | achieved msg/s (steady part) | per second min–max | sent "
        "| duplicates | not sent | RSS at start → end, MB (mean) | RSS growth after warm-up, MB (each) "
        "| wall |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in result["dispatch"]:
        r = run["rate"]
        growth = ", ".join(f"{m['growth_after_warm_mb']:+.1f}" for m in run["memory_per_worker"])
        lost = run["campaign_rows"] - run["recipients_reached"]
        lines.append(
            f"| {run['workers']} | {run['target_mps']} | **{run['achieved_mps']:.1f}** | "
            f"{r.get('per_second_min')}–{r.get('per_second_max')} | {run['sent']:,} | {run['duplicates']} | "
            f"{lost} | {run['rss_mb_start']} → {run['rss_mb_end']} | {growth} | {run['wall_seconds']} s |"
        )
    lines += ["", "Per run:", ""]
    for run in result["dispatch"]:
        probe, cpu, rate, db = run["standin_probe"], run["cpu"], run["rate"], run["database"]
        dispatchers = "; ".join(
            f"claimed {d['stats'].get('claimed', 0):,}, sent {d['stats'].get('sent', 0):,}, "
            f"deferred {d['stats'].get('deferred', 0)}, retried {d['stats'].get('retried', 0)}, "
            f"{d['jobs']} job(s), CPU {d['cpu_seconds']} s"
            for d in run["dispatchers"]
        )
        samples = "; ".join(
            " ".join(f"{t:g}s:{rss:g}" for t, rss in m["samples"][:: max(len(m["samples"]) // 8, 1)])
            for m in run["memory_per_worker"]
        )
        lines += [
            f"- **{run['target_mps']} msg/s**: {run['campaign_rows']:,} rows ({run['channel']}), planned in "
            f"{run['campaign_plan_seconds']} s. Steady part {rate['steady_seconds']} s with "
            f"{rate['steady_messages']:,} messages; whole run {rate.get('whole_run_mps')} msg/s over "
            f"{rate.get('whole_run_seconds')} s. Rows by status: {db['rows_by_status']}; "
            "messages with a SID: "
            f"{db['messages_with_sid']:,}; duplicate SIDs at the stand-in / in the database: "
            f"{run['duplicate_sids_at_standin']} / {db['duplicate_provider_sids']}; refused by the stand-in: "
            f"{run['refused_by_standin']}.",
            f"  - Stand-in: {probe['latency_ms_p50']} ms p50 / {probe['latency_ms_p99']} ms p99 per request "
            f"from one client before the run, {probe['capacity_rps']:,} requests/s with "
            f"{probe['capacity_clients']} clients; its handler took {run['standin_server_ms_p50']} ms p50 "
            "during the run.",
            f"  - Dispatchers: {dispatchers}.",
            f"  - CPU seconds over {cpu['wall_seconds']} s on {cpu['cores']} cores "
            f"({cpu['machine_busy_percent']}% busy): "
            + ", ".join(f"{k} {v}" for k, v in cpu["cpu_seconds"].items())
            + ".",
            f"  - RSS samples (seconds:MB), each dispatcher: {samples}.",
        ]
    lines.append("")
    return lines


# ---- main --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=1_000_000, help="open invoices to plan")
    parser.add_argument("--debtors", type=int, default=None, help="debtors they belong to (default: 40 %%)")
    parser.add_argument("--rates", default="80,200", help="configured send rates, messages per second")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of sending per run at the rate")
    parser.add_argument("--workers", type=int, default=2, help="dispatcher processes")
    parser.add_argument("--trim", type=float, default=2.0, help="seconds left out at each end of a run")
    parser.add_argument("--channel", choices=("whatsapp", "sms"), default="whatsapp")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL server URL"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="Redis db (flushed!)")
    parser.add_argument("--wait-idle", type=float, default=0.0, help="wait up to N s for other benchmarks")
    parser.add_argument("--skip-planning", action="store_true")
    parser.add_argument("--skip-dispatch", action="store_true")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument(
        "--profile", action="store_true", help="one more (unmeasured) run at the last rate, under cProfile"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.debtors = args.debtors or max(args.invoices * 2 // 5, 1)
    args.rate_list = [int(r) for r in args.rates.split(",") if r.strip()]
    args.profiling = False
    configured = load_settings(
        {"DATABASE_URL": args.database_url, "SECRET_KEY": "bench-reminders-secret-0123456789"}
    ).database_url
    if not configured or not configured.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    args.database_url = configured
    return args


def dispatch_method(args: argparse.Namespace) -> str:
    """How the dispatch rate was measured (for the report)."""
    consent = "WhatsApp consent given" if args.channel == "whatsapp" else "no WhatsApp consent: SMS"
    return (
        f"{args.workers} dispatcher processes, each `bench/reminders_child.py`: the real "
        "`bot.reminders.jobs.dispatch_reminders` job — the one `regua worker --queue reminders` runs, "
        "queued "
        "by the scheduler — called back to back until a call returns before its budget (nothing "
        "due), without RQ around it. So `dispatch_batch` as deployed: claims of `BATCH_SIZE` rows, "
        "`SEND_THREADS` sending threads, `TwilioSender` with credentials-shaped settings "
        "(`TWILIO_API_BASE_URL` = the stand-in) and the shared `SendRate`s in Redis, "
        "`WHATSAPP_SEND_RATE` = `SMS_SEND_RATE` = the target. Time ticks from Monday 2026-12-07 "
        "10:00 in Brasília in every dispatcher (time-machine, one offset for all, so the moving "
        f"window they share in Redis sees one clock). Every debtor ({consent}) has one row, hence "
        "one message. The cadence is one D-3 step on WhatsApp then SMS, with the legal contact "
        "window. Achieved rate: messages the stand-in accepted per second, the first and last "
        f"{args.trim:g} s left out. RSS: each dispatcher when ready (imports done, before its "
        "first batch), sampled every 0.5 s, and at its end; 'warm-up' ends a quarter into the run."
    )


def machine_busy(result: dict[str, Any]) -> str:
    """Whether other work shared the machine during the measured phases (from the checks made before each
    phase and the CPU used by other processes during it)."""
    phases = []
    if "plan_seconds" in result:
        phases.append(("planning", result["plan_idle_check"], result["plan_cpu"]))
    phases += [
        (f"dispatch {r['target_mps']}/s", r["idle_check"], r["cpu"]) for r in result.get("dispatch", [])
    ]
    findings, waited = [], result.get("start_idle_check", {}).get("waited_seconds", 0.0)
    for name, check, cpu in phases:
        waited += check["waited_seconds"]
        if check["busy_with"]:
            findings.append(f"{name}: running at its start: {'; '.join(check['busy_with'])}")
        if cpu["foreign_share"] > FOREIGN_BUSY:
            others = ", ".join(f"`{n}` ({s} CPU s)" for n, s in cpu["busiest_others"])
            findings.append(
                f"{name}: other processes used {cpu['foreign_share']:.0%} of the machine"
                + (f" ({others})" if others else "")
            )
    if not findings:
        return (
            "no — no other benchmark or Rasa test/train ran, and other processes used at most "
            f"{max([c['foreign_share'] for _, _, c in phases] or [0]):.0%} of the machine during each phase"
            + (f" (the bench waited {waited:.0f} s for the machine to be idle)" if waited >= 1 else "")
            + "."
        )
    return "**yes** — " + " / ".join(findings) + "."


def revision() -> str:
    """The project's git revision, and whether the measured régua code differs from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot/reminders", "bot/delivery", "bot/channels"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()[1::2]  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" with local changes to {', '.join(changed)}" if changed else "")


def machine_info() -> dict[str, Any]:
    """CPUs, memory, Python."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the clean-up below runs on kill too
    result: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/reminders.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "revision": revision(),
        "machine": machine_info(),
        "notes": [],
    }
    args.deadline = time.monotonic() + args.wait_idle
    start_check = wait_until_idle(args.deadline)  # before loading anything: the load is heavy too
    result["start_idle_check"] = start_check
    with psycopg_connect(args.database_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        settings = conn.execute(
            "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ', ' ORDER BY name) "
            "FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'synchronous_commit', 'max_wal_size', 'jit')"
        ).fetchone()[0]  # type: ignore[index]
    result["database"] = f"PostgreSQL {version}"
    result["database_settings"] = settings
    result["redis"] = redis.Redis.from_url(args.redis_url).info("server")["redis_version"]
    if not args.skip_planning:
        log(f"planning: loading {args.invoices:,} invoices for {args.debtors:,} debtors ...")
        result.update(run_planning(args))
    if not args.skip_dispatch:
        result["dispatch_method"] = dispatch_method(args)
        result["dispatch"] = []
        with tempfile.TemporaryDirectory(prefix="regua-bench-reminders-") as tmp:
            workdir = Path(tmp)
            with scratch_schema(args.database_url, "send") as url:
                for run, rate in enumerate(args.rate_list):
                    result["dispatch"].append(run_dispatch(args, url, rate, run, workdir))
                if args.profile:
                    args.profiling = True
                    profiled = run_dispatch(args, url, args.rate_list[-1], len(args.rate_list), workdir)
                    result["profile"] = profile_summary(workdir, profiled)
    result["machine_busy"] = machine_busy(result)
    result["goals"] = goals(result)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "reminders.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n"
    )
    (args.output / "reminders.md").write_text(markdown(result))
    log(f"results in {args.output / 'reminders.json'} and reminders.md")
    for goal in result["goals"]:
        log(f"{'MET    ' if goal['met'] else 'NOT MET'} {goal['goal']}: {goal['measured']}")
    return 0


def profile_summary(workdir: Path, run: dict[str, Any]) -> dict[str, Any]:
    """The top functions (cumulative time) of the profiled run's dispatchers, merged."""
    import io
    import pstats

    paths = sorted(str(p) for p in workdir.glob("profile-*-profile-*.pstats"))
    if not paths:
        return {}
    stats = pstats.Stats(paths[0])
    for path in paths[1:]:
        stats.add(path)
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(45)
    tottime = io.StringIO()
    stats.stream = tottime  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(30)
    return {
        "achieved_mps": run["achieved_mps"],
        "target_mps": run["target_mps"],
        "cumulative": out.getvalue()[-12000:],
        "tottime": tottime.getvalue()[-8000:],
    }


if __name__ == "__main__":
    sys.exit(main())
