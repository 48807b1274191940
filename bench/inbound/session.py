"""A measuring session at rising rates (the default command): one stack from the current checkout, every
system at every rate, then inbound.json and inbound.md. Also what the comparison reuses: the tree's model,
one measured (system, rate) run, the environment shared by every session."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import redis

from bench.inbound.constants import (
    BENCH_VAR,
    FOREIGN_BUSY,
    GOAL_RATE,
    SECRET_KEY,
    SYSTEMS,
    TURNS_PER_DEBTOR,
    console,
)
from bench.inbound.data import scratch_database, seed_people
from bench.inbound.load import LoadGenerator, Shot, plan
from bench.inbound.measure import Outcome, foreign_share, host_busy_share, ms, wait_for_idle
from bench.inbound.processes import CURRENT, NICE, Tree, busy_processes, run_in_tree, stop_all
from bench.inbound.profiling import profile_regua
from bench.inbound.report import goal, markdown, notes
from bench.inbound.settle import drain
from bench.inbound.stack import Stack, running_stack
from bench.inbound.systems import run_rasa_rest, run_rasa_twilio, run_regua, warm_up
from bot.config import load_settings
from bot.db import Database


def redis_url_for(db_number: int) -> str:
    """REDIS_URL (default redis://127.0.0.1:6379) with the bench's own database number."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379"
    split = urlsplit(base)
    if split.scheme not in ("redis", "rediss"):
        raise SystemExit(
            "the bench needs a TCP Redis (REDIS_URL=redis://...): Rasa's stores cannot use a socket"
        )
    return urlunsplit((split.scheme, split.netloc, f"/{db_number}", "", ""))


def configured_database() -> str | None:
    """The database server the bench makes its scratch databases on (DATABASE_URL), None for SQLite."""
    return load_settings(
        {"DATABASE_URL": os.environ.get("DATABASE_URL", ""), "SECRET_KEY": SECRET_KEY}
    ).database_url


def new_run_dir(prefix: str = "run") -> Path:
    """A fresh directory for this session's logs and records under var/bench/."""
    run_dir = BENCH_VAR / f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    run_dir.mkdir(parents=True)
    return run_dir


# Run in a tree: its model's file name ("name"), or that after training it if missing ("ensure").
TREE_MODEL = """
import sys
try:
    from bot.rasa import training
except ImportError:  # a tree from before bot/rasa/ (issue 15's baseline): bot/nlu.py
    from bot import nlu as training
path = training.ensure_model() if sys.argv[1] == "ensure" else training.model_path()
print(path.name)
"""


def model_name(tree: Tree, *, train: bool = False) -> str:
    """The file name `tree`'s own training code expects for its training data (`regua-<fingerprint>.tar.gz`);
    with `train`, after training that model unless its models directory has it already."""
    env = {"REGUA_ENV": "test", "SECRET_KEY": SECRET_KEY}
    return run_in_tree(tree, TREE_MODEL, "ensure" if train else "name", env=env)


def debtors_per_run(rate: float, duration: float) -> int:
    """How many debtors one run at `rate` for `duration` seconds writes as (three messages each)."""
    return math.ceil(max(1, round(rate * duration)) / TURNS_PER_DEBTOR)


def measure(
    stack: Stack,
    gen: LoadGenerator,
    system: str,
    rate: float,
    shots: list[Shot],
    args: argparse.Namespace,
    idle_deadline: float,
) -> Outcome:
    """One measured run of `system` at `rate`: wait for a quiet machine (up to `idle_deadline`), send
    `shots`, settle, account for the CPU, drain Régua's leftovers; print the line and return the outcome."""
    wait_for_idle(lambda: sum(stack.cpu().values()), idle_deadline)
    busy = busy_processes()
    console.print(
        f"[bold]{system}[/] at {rate:g} msg/s: {len(shots)} messages over {args.duration:g} s"
        + (" [yellow](machine busy: rasa test/train running)[/]" if busy else "")
    )
    host_before, started = psutil.cpu_times(), time.time()
    ours_before = sum(stack.cpu().values())
    if system == "regua":
        outcome = run_regua(stack, gen, shots, rate, args.settle_timeout)
    elif system == "rasa_rest":
        outcome = run_rasa_rest(stack, gen, shots, rate)
    else:
        outcome = run_rasa_twilio(stack, gen, shots, rate)
    host_after = psutil.cpu_times()
    outcome.host_busy = host_busy_share(host_before, host_after)
    outcome.foreign = foreign_share(host_before, host_after, ours_before, sum(stack.cpu().values()))
    outcome.elapsed = time.time() - started
    outcome.drained = drain(stack, args.drain_timeout)
    outcome.busy = sorted(set(busy) | set(busy_processes()))
    row = outcome.row()
    console.print(
        f"  p50 {row['p50_ms'] or 0:,.0f} ms, p95 {row['p95_ms'] or 0:,.0f} ms,"
        f" p99 {row['p99_ms'] or 0:,.0f} ms;"
        f" errors {outcome.errors}, lost {outcome.lost}, duplicates {outcome.duplicates},"
        f" replies {outcome.replies}, max lag {outcome.max_lag * 1000:.0f} ms,"
        f" other processes {outcome.foreign:.0%} of the CPU"
    )
    stack.check_alive()
    return outcome


def machine() -> dict[str, Any]:
    """This machine, for the reports."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def database_version(database_url: str) -> str:
    """ "postgresql 15.20" or "sqlite 3.x" for the report."""
    db = Database(database_url)
    try:
        with db.engine.connect():
            version = ".".join(map(str, db.engine.dialect.server_version_info or ()))
        return f"{db.engine.dialect.name} {version}".strip()
    finally:
        db.dispose()


def run_rates(args: argparse.Namespace) -> int:
    """The default command: every system at every rate on one stack from the current checkout."""
    run_dir = new_run_dir()
    console.print("[bold]model[/]: ensuring the trained model for the current data ...")
    model = model_name(CURRENT, train=True)
    console.print(f"  {model}")
    idle_deadline = time.monotonic() + args.wait_idle
    redis_url = redis_url_for(args.redis_db)
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    per_run = {rate: debtors_per_run(rate, args.duration) for rate in args.rate_list}
    needed_each = sum(per_run.values())
    profile_rate = max([r for r in args.rate_list if r <= GOAL_RATE] or args.rate_list)
    profile_people = per_run[profile_rate] if args.profile and "regua" in args.systems else 0
    profile: dict[str, Any] | None = None
    outcomes: list[Outcome] = []
    gen = LoadGenerator()
    base = len(SYSTEMS) * needed_each  # the warm-up's 24 debtors follow the systems' pools
    try:
        with scratch_database(configured_database(), f"regua_bench_inbound_{os.getpid()}") as database_url:
            console.print(f"[bold]data[/]: demo creditor and {base + 24 + profile_people:,} debtors ...")
            people = seed_people(
                CURRENT,
                database_url,
                base + 24 + profile_people,
                [(needed_each, 2 * needed_each), (base + 12, base + 24)],
                run_dir,
            )
            pools = {s: people[i * needed_each : (i + 1) * needed_each] for i, s in enumerate(SYSTEMS)}
            warm, warm_rest = people[base : base + 12], people[base + 12 : base + 24]
            profile_pool = people[base + 24 :]
            database = database_version(database_url)
            console.print(
                f"[bold]start[/]: stand-in/proxy, Régua (web x{args.web_concurrency}, "
                f"{args.workers} worker(s), actions, rasa) ..."
            )
            with running_stack(args, database_url, redis_url, run_dir, CURRENT) as stack:
                console.print("[bold]warm-up[/] ...")
                warm_up(stack, warm, warm_rest, args.systems)
                offsets = dict.fromkeys(SYSTEMS, 0)
                for rate in args.rate_list:
                    for system in args.systems:
                        pool = pools[system][offsets[system] : offsets[system] + per_run[rate]]
                        offsets[system] += per_run[rate]
                        shots = plan(rate, args.duration, pool)
                        outcomes.append(measure(stack, gen, system, rate, shots, args, idle_deadline))
                        time.sleep(3)
                if profile_people:
                    console.print(
                        f"[bold]profile[/]: regua at {profile_rate:g} msg/s under py-spy (not measured)"
                    )
                    shots = plan(profile_rate, args.duration, profile_pool)
                    profile = profile_regua(stack, gen, shots, profile_rate, args.settle_timeout)
    finally:
        stop_all()
        gen.close()
        with contextlib.suppress(redis.RedisError):
            conn.flushdb()
    result = rates_result(args, outcomes, database, model)
    if profile is not None:
        result["profile"] = profile
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "inbound.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.output / "inbound.md").write_text(markdown(result, outcomes))
    g = result["goal"]
    console.print(f"[bold]goal[/]: {g['goal']}: {g['met']} — {g['detail']}")
    console.print(f"results in {args.output / 'inbound.json'} and inbound.md; logs in {run_dir}")
    return 0


def outcome_details(o: Outcome) -> dict[str, Any]:
    """One run's entry of `details` in the JSON results."""
    return {
        "system": o.system,
        "rate": o.rate,
        "sent": o.sent,
        "completed": len(o.latencies),
        "replies": o.replies,
        "max_send_lag_ms": ms(o.max_lag),
        "mean_ms": ms(sum(o.latencies) / len(o.latencies)) if o.latencies else None,
        "max_ms": ms(max(o.latencies)) if o.latencies else None,
        "cpu_seconds": o.cpu,
        "stand_in_refused": o.refused,
        "host_cpu_busy": o.host_busy,
        "other_processes_cpu": o.foreign,
        "elapsed_s": round(o.elapsed, 1),
        "drain_s": round(o.drained, 1),
        "machine_busy": bool(o.busy) or o.foreign > FOREIGN_BUSY,
        **({"breakdown": o.breakdown} if o.breakdown else {}),
    }


def rates_result(
    args: argparse.Namespace, outcomes: list[Outcome], database: str, model: str
) -> dict[str, Any]:
    """inbound.json."""
    return {
        "runs": [o.row() for o in outcomes],
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": args.duration,
        "settle_timeout_s": args.settle_timeout,
        "database": database,
        "redis_db": args.redis_db,
        "workers": args.workers,
        "nice": args.nice,
        "web_concurrency": args.web_concurrency,
        "twilio_latency_ms": args.twilio_latency_ms,
        "stand_in": "Prism 5.16.0 (dynamic mock, validating) behind bench/twilio_recorder.py"
        if args.stand_in == "prism"
        else "bench/twilio_recorder.py (a small Twilio Messages API look-alike that records every request)",
        "model": model,
        "machine": machine(),
        "goal": goal(outcomes),
        "details": [outcome_details(o) for o in outcomes],
        "notes": notes(args, outcomes),
    }


def apply_nice(value: int) -> None:
    """Run the bench, and every process it starts, at niceness `value` (and their scheduler autogroups)."""
    if value:
        os.nice(value)  # inherited by every process the bench starts
        NICE[0] = value
        with contextlib.suppress(OSError):
            Path(f"/proc/{os.getpid()}/autogroup").write_text(str(value))
