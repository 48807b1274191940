"""Benchmark: a model promoted (and rolled back) while debtors write through the real signed webhook.

Usage (from the project root; needs a TCP Redis, and PostgreSQL for realistic numbers)::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \\
        .venv/bin/python -m bench.nlu_swap [--rate 10] [--before 20] [--duration 60] [--redis-db 9]

It reuses bench/inbound's stack (web, worker, actions, the Twilio stand-in, Rasa blue, plus the green slot:
`running_stack` with `green_slot`), its data, load generator and accounting (`run_regua`: a message is
lost when it is not done with every reply handed over, duplicated when a reply repeats). Three runs at
`--rate`: *before* (no swap), *during* (`bot.nlu_serving.swap.promote` of a copy of the current model
under another name starts 2 s into the run) and *rollback* (`swap.rollback` 2 s into the run). Writes
`bench/results/nlu-swap.md` and `.json`: messages sent while the swap ran, lost, duplicated, p99 before vs
during (the whole run and the messages sent while the swap ran), and the swap's own duration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from bench.inbound.cli import add_stack_options
from bench.inbound.constants import console
from bench.inbound.data import scratch_database, seed_people
from bench.inbound.load import LoadGenerator, Shot, plan
from bench.inbound.measure import Outcome, ms, percentile
from bench.inbound.processes import CURRENT, stop_all
from bench.inbound.session import configured_database, debtors_per_run, model_name, new_run_dir, redis_url_for
from bench.inbound.stack import Stack, running_stack
from bench.inbound.systems import run_regua, warm_up
from bot.nlu_serving import swap
from bot.rasa import training


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The bench's options: bench/inbound's stack options plus the rate and the runs' lengths."""
    parser = argparse.ArgumentParser(prog="python -m bench.nlu_swap", description=__doc__.split("\n")[0])
    add_stack_options(parser)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second (issue 17: 10)")
    parser.add_argument("--before", type=float, default=20.0, help="seconds of the run before the swap")
    parser.set_defaults(duration=60.0, redis_db=9)
    args = parser.parse_args(argv)
    args.systems = ["regua"]
    args.green_slot = True
    return args


class Timed:
    """Runs `action` in a thread `delay` seconds from `start()`; keeps when it ran and what it returned."""

    def __init__(self, action: Callable[[], swap.Outcome], delay: float = 2.0) -> None:
        self.action, self.delay = action, delay
        self.started = self.ended = 0.0
        self.result: swap.Outcome | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        time.sleep(self.delay)
        self.started = time.time()
        try:
            self.result = self.action()
        except Exception as error:  # reported, not raised: the run's accounting still matters
            self.error = f"{type(error).__name__}: {error}"
        self.ended = time.time()


def _run(stack: Stack, gen: LoadGenerator, shots: list[Shot], args: argparse.Namespace, swap_at=None):  # type: ignore[no-untyped-def]
    """One run of `shots`; with `swap_at` (a `Timed`), the swap starts during it."""
    if swap_at is not None:
        swap_at.thread.start()
    outcome = run_regua(stack, gen, shots, args.rate, args.settle_timeout)
    if swap_at is not None:
        swap_at.thread.join()
    return outcome


def _window(shots: list[Shot], timed: Timed) -> dict[str, Any]:
    """The messages sent while the swap ran: how many, and their webhook response times."""
    inside = [s for s in shots if timed.started <= s.t_send <= timed.ended]
    times = [s.t_resp - s.t_send for s in inside if s.ok]
    return {
        "messages": len(inside),
        "errors": sum(not s.ok for s in inside),
        "p99_response_ms": ms(percentile(times, 99)),
    }


def _summary(outcome: Outcome) -> dict[str, Any]:
    return {**outcome.row(), "sent": outcome.sent, "replies": outcome.replies}


def _swap_row(timed: Timed, shots: list[Shot]) -> dict[str, Any]:
    result = timed.result
    return {
        "seconds": round(timed.ended - timed.started, 1),
        "loaded": result.loaded if result else None,
        "slot": result.slot.value if result else None,
        "error": timed.error,
        "window": _window(shots, timed),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three runs and write the results."""
    args = parse_args(argv)
    run_dir = new_run_dir("nlu-swap")
    model = training.model_path()
    console.print(f"[bold]model[/]: {model_name(CURRENT, train=True)}")
    candidate = run_dir / "models" / "regua-bench-candidate.tar.gz"
    candidate.parent.mkdir(parents=True)
    shutil.copyfile(model, candidate)  # "a new model": never retrain nor touch models/
    redis_url = redis_url_for(args.redis_db)
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    per_run = debtors_per_run(args.rate, args.duration)
    gen = LoadGenerator()
    result: dict[str, Any] = {}
    try:
        name = f"regua_bench_nlu_swap_{os.getpid()}"
        with scratch_database(configured_database(), name) as database_url:
            people = seed_people(CURRENT, database_url, 3 * per_run + 12, [], run_dir)
            with running_stack(args, database_url, redis_url, run_dir, CURRENT) as stack:
                warm_up(stack, people[-12:], [], args.systems)
                pools = [people[i * per_run : (i + 1) * per_run] for i in range(3)]
                before_shots = plan(args.rate, args.before, pools[0])
                console.print(f"[bold]before[/]: {len(before_shots)} messages at {args.rate:g} msg/s")
                before = _run(stack, gen, before_shots, args)
                promote = Timed(lambda: swap.promote(stack.settings, stack.database, candidate, "bench"))
                during_shots = plan(args.rate, args.duration, pools[1])
                console.print(f"[bold]during[/]: {len(during_shots)} messages, promote at +2 s")
                during = _run(stack, gen, during_shots, args, promote)
                rollback = Timed(lambda: swap.rollback(stack.settings, stack.database, "bench"))
                back_shots = plan(args.rate, args.before, pools[2])
                console.print(f"[bold]rollback[/]: {len(back_shots)} messages, rollback at +2 s")
                back = _run(stack, gen, back_shots, args, rollback)
                result = {
                    "when": datetime.now(UTC).isoformat(timespec="seconds"),
                    "rate": args.rate,
                    "database": database_url.split(":", 1)[0],
                    "before": _summary(before),
                    "during": {**_summary(during), "swap": _swap_row(promote, during_shots)},
                    "rollback": {**_summary(back), "swap": _swap_row(rollback, back_shots)},
                }
    finally:
        stop_all()
        gen.close()
        with contextlib.suppress(redis.RedisError):
            conn.flushdb()
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "nlu-swap.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output / "nlu-swap.md").write_text(markdown(result))
    console.print(f"results in {args.output / 'nlu-swap.md'}; logs in {run_dir}")
    return 0


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def markdown(result: dict[str, Any]) -> str:
    """The report: one row per run, then what the swaps did."""
    lines = [
        "# NLU model swap under load",
        "",
        f"Generated by `bench/nlu_swap.py` on {result['when']} ({result['database']}): signed Twilio webhooks"
        f" at {result['rate']:g} msg/s into Régua (bench/inbound's stack plus the green Rasa slot). A copy"
        " of the current model under another name is promoted during the second run and rolled back"
        " during the third. Lost: a message not done with all its replies handed over; duplicated: a reply"
        " repeated. Latency: from the webhook POST to the last reply handed over.",
        "",
        "| run | messages | lost | duplicated | errors | p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in ("before", "during", "rollback"):
        row = result[label]
        lines.append(
            f"| {label} | {row['sent']} | {row['lost']} | {row['duplicates']} | {row['errors']} | "
            f"{_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} |"
        )
    lines += [
        "",
        "| swap | took | model loaded | messages sent while it ran | their p99 (webhook answer) | error |",
    ]
    lines.append("| --- | ---: | --- | ---: | ---: | --- |")
    for label, what in (("during", "promote"), ("rollback", "rollback")):
        s = result[label]["swap"]
        lines.append(
            f"| {what} | {s['seconds']:.1f} s | {'yes' if s['loaded'] else 'no'} | "
            f"{s['window']['messages']} | {_ms(s['window']['p99_response_ms'])} | {s['error'] or '–'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
