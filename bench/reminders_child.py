"""One dispatcher process for `bench/reminders.py`: the real `bot.reminders.jobs.dispatch_reminders` RQ
job, in a loop.

The dispatcher role of the Procfile is `regua worker --queue reminders` running the `dispatch_reminders`
job, which the scheduler keeps queued while rows are due; each job sends batch after batch (with the
shared send rates in Redis) until nothing is due or its 55 s budget is spent. This process runs that
same job function back to back, without RQ around it (the queue adds nothing to the sending path): a
job that returns before its budget found nothing due, and the process ends.

Time: the process travels (time-machine, ticking) to the real clock plus `argv[1]` seconds, the offset
the benchmark computed once for every dispatcher, so all of them — and the moving window they share in
Redis, whose timestamps come from the senders' clocks — agree, at a weekday 10:00 in Brasília.

Protocol on stdout (JSON lines): `{"ready": ...}` after start-up, then it waits for a line on stdin
(the benchmark starts every dispatcher at once), then `{"done": ...}` with the job's counts, the time
spent in each phase (summed over the sending threads) and its RSS at the end. With `argv[2] == "profile"`
it also writes a cProfile of every thread to `argv[3]`.
"""

from __future__ import annotations

import cProfile
import functools
import json
import os
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psutil
import time_machine


class PhaseTimers:
    """Seconds and calls per phase, summed over threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, func):  # type: ignore[no-untyped-def]
        """`func`, timed under `name`."""

        @functools.wraps(func)
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.seconds[name] += elapsed
                    self.calls[name] += 1

        return timed

    def report(self) -> dict[str, dict[str, float]]:
        """{phase: {"seconds": s, "calls": n, "ms_per_call": ms}}."""
        return {
            name: {
                "seconds": round(self.seconds[name], 3),
                "calls": self.calls[name],
                "ms_per_call": round(1000 * self.seconds[name] / max(self.calls[name], 1), 3),
            }
            for name in sorted(self.seconds)
        }


class ThreadProfiles:
    """A CPU-time cProfile per thread (cProfile sees only the thread it was enabled in), merged at the end."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.all: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def wrap(self, func):  # type: ignore[no-untyped-def]
        """`func`, profiled in whatever thread runs it."""

        @functools.wraps(func)
        def profiled(*args, **kwargs):  # type: ignore[no-untyped-def]
            profile = getattr(self.local, "profile", None)
            if profile is None:
                # Per-thread CPU time: each thread has its own profiler, so waits do not count.
                profile = self.local.profile = cProfile.Profile(time.thread_time)
                with self.lock:
                    self.all.append(profile)
            profile.enable()
            try:
                return func(*args, **kwargs)
            finally:
                profile.disable()

        return profiled

    def dump(self, path: str) -> None:
        """Merge every thread's profile into one pstats file."""
        import pstats

        if not self.all:
            return
        stats = pstats.Stats(self.all[0])
        for profile in self.all[1:]:
            stats.add(profile)
        stats.dump_stats(path)


def _instrument(timers: PhaseTimers, profiles: ThreadProfiles | None) -> None:
    """Time the phases of the real code (module attributes are replaced by timed wrappers; the code that
    runs is unchanged)."""
    from bot.channels.twilio_api import TwilioSender
    from bot.delivery import outgoing, sending
    from bot.reminders import dispatch
    from bot.reminders.throttle import SendRate

    dispatch.claim = timers.wrap("claim", dispatch.claim)
    dispatch._prepare = timers.wrap("prepare (re-check, save messages)", dispatch._prepare)
    dispatch._settle_resumed = timers.wrap("settle_resumed", dispatch._settle_resumed)
    SendRate.acquire = timers.wrap("send: rate.acquire (waiting for a token)", SendRate.acquire)
    outgoing.claim = timers.wrap("claim messages", outgoing.claim)
    TwilioSender.send = timers.wrap("send: TwilioSender.send (HTTP)", TwilioSender.send)
    dispatch._settle_rows = timers.wrap("record", dispatch._settle_rows)
    if profiles is not None:
        # The batch (claim, prepare, record) runs in the job's thread, the sends in the pool's threads.
        dispatch.dispatch_batch = profiles.wrap(dispatch.dispatch_batch)
        sending._attempt = profiles.wrap(sending._attempt)


def main() -> None:
    """Start up, wait for the go, run the job until nothing is due, report."""
    offset = timedelta(seconds=float(sys.argv[1]))
    profile_path = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "profile" else None
    process = psutil.Process(os.getpid())
    with time_machine.travel(datetime.now(UTC) + offset, tick=True):
        from sqlalchemy import text

        from bot import runtime
        from bot.reminders import jobs

        timers = PhaseTimers()
        profiles = ThreadProfiles() if profile_path else None
        _instrument(timers, profiles)
        services = runtime.services()
        with services.database.session() as session:
            session.execute(text("SELECT 1"))
        print(
            json.dumps(
                {"ready": True, "rss_mb": process.memory_info().rss / 2**20, "now": str(datetime.now(UTC))}
            ),
            flush=True,
        )
        sys.stdin.readline()
        started = time.monotonic()
        cpu_start = process.cpu_times()
        totals: dict[str, int] = defaultdict(int)
        jobs_run = 0
        while True:
            job_started = time.monotonic()
            result = jobs.dispatch_reminders()
            jobs_run += 1
            for key, value in result.items():
                totals[key] += value
            if time.monotonic() - job_started < jobs.DISPATCH_BUDGET_SECONDS:
                break  # the job stopped early: nothing was due
        seconds = time.monotonic() - started
        cpu_end = process.cpu_times()
        if profiles is not None and profile_path:
            profiles.dump(profile_path)
        print(
            json.dumps(
                {
                    "done": True,
                    "seconds": round(seconds, 3),
                    "jobs": jobs_run,
                    "stats": dict(totals),
                    "cpu_seconds": round(
                        (cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system), 3
                    ),
                    "timers": timers.report(),
                    "rss_mb": process.memory_info().rss / 2**20,
                    "now": str(datetime.now(UTC)),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
