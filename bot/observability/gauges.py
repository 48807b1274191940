"""Gauges read from the database and Redis when Prometheus scrapes `/metrics`: the RQ queues' depths and
the reminder outbox's backlog.

They describe shared state, not one process's work, so they are read at scrape time instead of being
counted (no multiprocess bookkeeping, and the value is right whichever web process answers). Each source
is read by a `BackgroundReading`: in a thread of its own, at most once per `ttl` seconds per process,
while scrapes get the last reading at once. A scrape waits for a reading only when the last one is too
old to serve, and then at most `wait` seconds: a hung or stopped database or Redis makes
`regua_scrape_source_up{source}` 0 and drops that source's gauges, it never hangs `/metrics` or fails it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from bot.localtime import local_date
from bot.models import utcnow

# A reading is redone after TTL seconds and served for up to MAX_AGE; a scrape that has nothing fresh
# enough to serve waits at most WAIT seconds for the new one.
TTL_SECONDS = 10.0
MAX_AGE_SECONDS = 30.0
WAIT_SECONDS = 0.2


@dataclass(frozen=True)
class Failed:
    """A reading that failed or did not come in time; `why` names the exception type, nothing more."""

    why: str


class BackgroundReading:
    """The latest result of `read()`, refreshed in a background thread (one at a time) when older than
    `ttl`; see the module docstring."""

    def __init__(
        self,
        read: Callable[[], Any],
        *,
        ttl: float = TTL_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        wait: float = WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read, self._ttl, self._max_age, self._wait, self._clock = read, ttl, max_age, wait, clock
        self._lock = threading.Lock()
        self._result: Any = None
        self._taken: float | None = None
        self._thread: threading.Thread | None = None

    def _age(self) -> float:
        return float("inf") if self._taken is None else self._clock() - self._taken

    def get(self) -> Any:
        """The latest reading (or `Failed`), starting a refresh when it is older than `ttl`."""
        with self._lock:
            if self._age() >= self._ttl and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._refresh, name="metrics-reading", daemon=True)
                self._thread.start()
            thread, servable = self._thread, self._age() < self._max_age
        if not servable and thread is not None:
            thread.join(self._wait)
        with self._lock:
            return self._result if self._age() < self._max_age else Failed("no answer in time")

    def _refresh(self) -> None:
        try:
            result = self._read()
        except Exception as error:  # a source down is reported as such, never raised into a scrape
            result = Failed(type(error).__name__)
        with self._lock:
            self._result, self._taken = result, self._clock()


def read_queues(conn: redis.Redis, names: Iterable[str]) -> dict[str, dict[str, int]]:
    """Jobs waiting, running and failed in each RQ queue of `names`, in one pipelined round trip."""
    names = list(names)
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.llen(Queue(name, connection=conn).key)
        pipe.zcard(StartedJobRegistry(name, connection=conn).key)
        pipe.zcard(FailedJobRegistry(name, connection=conn).key)
    counts = pipe.execute()
    return {
        name: dict(zip(("queued", "started", "failed"), counts[3 * n : 3 * n + 3], strict=True))
        for n, name in enumerate(names)
    }


class ScrapeGauges(Collector):
    """The prometheus-client collector of the scrape-time gauges: `database` reads the outbox backlog
    (bot.reminders.claiming.due_backlog), `redis` the queue depths (`read_queues`); each a
    `BackgroundReading`."""

    def __init__(self, database: BackgroundReading, redis_reading: BackgroundReading) -> None:
        self.database, self.redis = database, redis_reading

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the gauges of each source that answered, and every source's `up`."""
        up = GaugeMetricFamily(
            "regua_scrape_source_up",
            "1 when the source (database, redis) answered the last reading in time, else 0.",
            labels=["source"],
        )
        outbox, queues = self.database.get(), self.redis.get()
        up.add_metric(["database"], 0 if isinstance(outbox, Failed) else 1)
        up.add_metric(["redis"], 0 if isinstance(queues, Failed) else 1)
        yield up
        if not isinstance(outbox, Failed):
            yield from _outbox_gauges(outbox)
        if not isinstance(queues, Failed):
            depth = GaugeMetricFamily(
                "regua_queue_jobs", "Jobs in each RQ queue, by state (queued, started, failed).",
                labels=["queue", "state"],
            )  # fmt: skip
            for queue, states in queues.items():
                for state, count in states.items():
                    depth.add_metric([queue, state], count)
            yield depth


def _outbox_gauges(outbox: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    backlog = GaugeMetricFamily(
        "regua_outbox_backlog",
        "Reminder outbox rows due and not sent, by status (pending: waiting for a dispatcher or a retry "
        "time; sending: claimed by a dispatcher).",
        labels=["status"],
    )
    for status, count in outbox["counts"].items():
        backlog.add_metric([status], count)
    yield backlog
    oldest: date | None = outbox["oldest_due_on"]
    today = local_date(utcnow())
    yield GaugeMetricFamily(
        "regua_outbox_oldest_due_days",
        "Days since the send date of the oldest row due and not sent (0 when none is late).",
        value=(today - oldest).days if oldest is not None else 0,
    )
