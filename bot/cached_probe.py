"""A probe whose result is cached for a few seconds and computed by one caller at a time (single flight).

The deep readiness check (`/health/ready`) asks the database, Redis, the workers and Rasa. Run on every
hit, a burst of monitors (or an attacker) multiplies those calls, and a hung dependency holds one web
thread per caller: the Twilio webhooks then queue behind them. Cached with single flight, a burst costs
at most one probe per process per `ttl` seconds, and while one caller refreshes a stale result the
others get the stale one at once instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedProbe(Generic[T]):
    """Runs `probe()` at most once per `ttl` seconds, however many threads call `get()` at once."""

    def __init__(self, probe: Callable[[], T], ttl: float, clock: Callable[[], float] = time.monotonic):
        self._probe = probe
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._result: T | None = None
        self._taken_at = 0.0
        self.runs = 0  # how many times the probe ran (reported, and what the tests count)

    def _fresh(self) -> bool:
        return self._result is not None and self._clock() - self._taken_at < self._ttl

    def get(self) -> T:
        """The cached result if fresh; otherwise a new one. Only the first caller ever waits for a probe:
        while one thread refreshes, the others get the previous (stale) result immediately."""
        if self._fresh():
            return self._result  # type: ignore[return-value]
        # Block only when there is nothing to serve yet; otherwise whoever holds the lock is refreshing.
        if self._lock.acquire(blocking=self._result is None):
            try:
                if not self._fresh():  # another thread may have refreshed while this one waited
                    result = self._probe()
                    self.runs += 1
                    self._result, self._taken_at = result, self._clock()
            finally:
                self._lock.release()
        return self._result  # type: ignore[return-value]

    def age(self) -> float:
        """Seconds since the cached result was taken (0 when there is none yet)."""
        return self._clock() - self._taken_at if self._result is not None else 0.0
