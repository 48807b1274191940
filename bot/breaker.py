"""A small circuit breaker for the calls the webhook makes to Redis on its inline path.

A Redis that accepts connections and never answers would otherwise cost every webhook a socket timeout
per call (the rate limiter, the spool check, each enqueue). After `failures` failures in a row the
breaker *opens*: callers skip Redis (and take their fallback: the limiter fails open, work is left to
the sweep) for `cooldown` seconds; then one caller *probes* (half-open) and its outcome closes the
breaker or opens it again. One breaker per web process, shared by its threads.

A small class rather than `pybreaker`: the callers need "may I call?" and "it worked/failed" around
code that catches its own exceptions (the `limits` library wraps Redis errors in its own types), which
is all this is, and it avoids a dependency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Closed → open after `failures` consecutive failures → one probe after `cooldown` seconds."""

    def __init__(
        self, name: str, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self.threshold, self.cooldown, self.clock = name, failures, cooldown, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None  # None: closed
        self._probe_since: float | None = None  # a half-open probe in flight since then

    @property
    def is_open(self) -> bool:
        """True while callers skip the guarded service (open or half-open)."""
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """May the caller use the service now? Closed: yes. Open: no, except one probe per cool-down."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self.clock()
            if now - self._opened_at < self.cooldown:
                return False
            # A probe that never reported (its caller died) does not keep the breaker open for ever.
            if self._probe_since is not None and now - self._probe_since < self.cooldown:
                return False
            self._probe_since = now
            return True

    def succeeded(self) -> None:
        """The call worked: close the breaker."""
        with self._lock:
            if self._opened_at is not None:
                log.info("%s is answering again; circuit closed", self.name)
            self._failures, self._opened_at, self._probe_since = 0, None, None

    def failed(self) -> None:
        """The call failed (an error or a timeout): count it; open after `failures` in a row."""
        with self._lock:
            self._failures += 1
            if self._opened_at is not None:  # a failed probe: wait a whole cool-down again
                self._opened_at, self._probe_since = self.clock(), None
            elif self._failures >= self.threshold:
                self._opened_at = self.clock()
                log.warning(
                    "%s failed %d times in a row; circuit open, skipped for %.0f s",
                    self.name,
                    self._failures,
                    self.cooldown,
                )
