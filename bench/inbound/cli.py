"""The command line: `python -m bench.inbound [options]` measures every system at rising rates;
`python -m bench.inbound compare [options]` runs the baseline and the change interleaved."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import bench.inbound
from bench.inbound.compare import run_compare
from bench.inbound.constants import (
    BENCH_VAR,
    DEFAULT_WEB_CONCURRENCY,
    DEFAULT_WORKERS,
    GOAL_RATE,
    PROJECT_ROOT,
    RESULTS,
    SYSTEMS,
)
from bench.inbound.session import apply_nice, run_rates

# Main just before issue 15's first merge (c2b7ee2): the issue's "today's main".
DEFAULT_BASELINE = "6927727"
DEFAULT_BASELINE_DIR = PROJECT_ROOT.parent / "bench-baseline"


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """Options of the stack and of each measured run, shared by both commands."""
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending per run")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"RQ worker processes for Régua (default {DEFAULT_WORKERS}, as in the Procfile): they only take "
        "what the webhook could not answer inline (Rasa down or slow, bursts beyond its budget, a "
        "conversation claimed by another request), reply retries and the minute sweep",
    )
    parser.add_argument(
        "--web-concurrency",
        type=int,
        default=DEFAULT_WEB_CONCURRENCY,
        help=f"gunicorn worker processes for Régua's web app (WEB_CONCURRENCY, default "
        f"{DEFAULT_WEB_CONCURRENCY}, Régua's own default), each with 4 threads (WEB_THREADS); "
        "they answer the turns inline, so this is Régua's turn concurrency (processes x 4)",
    )
    parser.add_argument(
        "--stand-in", choices=("builtin", "prism"), default="builtin", help="the local Twilio stand-in"
    )
    parser.add_argument(
        "--twilio-latency-ms",
        type=float,
        default=0.0,
        help="hold every stand-in answer this long, as the real Twilio API's latency (default 0: the "
        "stand-in answers at once, so what a turn's sends cost in real life is not in the numbers)",
    )
    parser.add_argument(
        "--settle-timeout", type=float, default=30.0, help="seconds to wait for replies after a run"
    )
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number (flushed!)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each run, wait while `rasa test/train` runs (at most N s over the whole bench)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="directory for the .json and .md results"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the bench and every process it starts at this niceness (e.g. -10, as root, to keep "
        "other work on a shared machine from distorting the numbers)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="after each run, wait up to N s for Régua's leftover work before the next run",
    )


def rates_parser() -> argparse.ArgumentParser:
    """`python -m bench.inbound [options]`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.inbound",
        description=bench.inbound.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rates", default="5,10,20,30", help="messages per second, comma-separated")
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ", ".join(SYSTEMS)
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the measured runs, one more (unmeasured) Régua run at the goal rate under py-spy",
    )
    add_stack_options(parser)
    return parser


def compare_parser() -> argparse.ArgumentParser:
    """`python -m bench.inbound compare [options]`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.inbound compare",
        description="Interleaved runs of a baseline commit and the current checkout (baseline, change, "
        "baseline, change, ...), each a fresh database and that tree's own processes, Régua then Rasa's "
        "bare REST turn at the same rate; writes inbound-compare.md and .json with each run, the medians "
        "and issue 15's goals.",
    )
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        help=f"the commit to compare with (default {DEFAULT_BASELINE}: main before issue 15's first merge)",
    )
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=DEFAULT_BASELINE_DIR,
        help=f"where its git worktree goes, outside the repository (default {DEFAULT_BASELINE_DIR})",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="messages per second (default 20)")
    add_stack_options(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options of either command (`args.command` says which)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    compare = bool(argv) and argv[0] == "compare"
    parser = compare_parser() if compare else rates_parser()
    args = parser.parse_args(argv[1:] if compare else argv)
    args.command = "compare" if compare else "rates"
    if args.workers < 1:
        parser.error("--workers must be at least 1: the fallback, the retries and the sweep need a worker")
    if args.web_concurrency < 1:
        parser.error("--web-concurrency must be at least 1")
    if compare:
        if args.runs < 1:
            parser.error("--runs must be at least 1")
        args.rate_list, args.systems = [args.rate], ["regua", "rasa_rest"]
        args.profile = False
        return args
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen command and write its results."""
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(143))  # clean-up runs on kill too
    apply_nice(args.nice)
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    return run_compare(args) if args.command == "compare" else run_rates(args)
