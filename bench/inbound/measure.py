"""Measurement: percentiles, what one run measured (`Outcome`), and the CPU accounting (per process tree,
of the whole machine, and of processes the bench did not start)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.inbound.constants import FOREIGN_BUSY, console
from bench.inbound.load import Shot
from bench.inbound.processes import busy_processes


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(value: float | None) -> float | None:
    """Seconds as milliseconds with one decimal, None kept."""
    return None if value is None else round(value * 1000, 1)


@dataclass
class Outcome:
    """What one (system, rate) run measured."""

    system: str
    rate: float
    sent: int
    latencies: list[float]
    errors: int
    lost: int
    duplicates: int
    max_lag: float
    replies: int
    busy: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    refused: int = 0  # requests the stand-in refused (4xx)
    host_busy: float = 0.0  # share of the machine's CPU time in use during the run (all processes)
    elapsed: float = 0.0  # wall seconds from the first send until the run was settled
    foreign: float = 0.0  # share of the machine used by processes the bench did not start
    drained: float = 0.0  # seconds Régua still worked on leftovers after the run (before the next one)
    breakdown: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The entry of `runs` in inbound.json."""
        return {
            "system": self.system,
            "rate": self.rate,
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p95_ms": ms(percentile(self.latencies, 95)),
            "p99_ms": ms(percentile(self.latencies, 99)),
            "errors": self.errors,
            "lost": self.lost,
            "duplicates": self.duplicates,
        }


def host_busy_share(before: Any, after: Any) -> float:
    """Share of the machine's CPU time (all cores, all processes) that was not idle between two
    `psutil.cpu_times()` snapshots."""
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    return round(1 - idle / total, 3) if total > 0 else 0.0


def foreign_share(host_before: Any, host_after: Any, ours_before: float, ours_after: float) -> float:
    """Share of the machine's CPU used by processes the bench did not start (nor Redis) between two
    snapshots of `psutil.cpu_times()` and of our processes' CPU seconds."""
    total = sum(host_after) - sum(host_before)
    if total <= 0:
        return 0.0
    busy = total * host_busy_share(host_before, host_after)
    return round(max(0.0, busy - (ours_after - ours_before)) / total, 3)


def wait_for_idle(our_cpu: Callable[[], float], deadline: float) -> None:
    """Until `deadline` (time.monotonic()), wait while `rasa test`/`rasa train` runs or other processes use
    more than FOREIGN_BUSY of the machine (sampled over 3 s); `our_cpu` gives the CPU seconds of the
    processes the bench started."""
    said = False
    while time.monotonic() < deadline:
        host, ours = psutil.cpu_times(), our_cpu()
        time.sleep(3)
        share = foreign_share(host, psutil.cpu_times(), ours, our_cpu())
        if share <= FOREIGN_BUSY and not busy_processes():
            return
        if not said:
            console.print(f"  waiting: other processes use {share:.0%} of the machine ...")
            said = True


def max_lag(shots: list[Shot]) -> float:
    """How late the latest send of a run started against its schedule (s)."""
    return max((s.lag for s in shots), default=0.0)


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per component between two snapshots."""
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}
