"""Login rate limits: failed logins counted per e-mail and per client address (`LOGIN_RATE_LIMIT`,
`LOGIN_RATE_LIMIT_PER_ADDRESS`), shared by every web process through Redis with the `limits` library.

Only failures count, so a person who types their password right is never slowed down; once either
count is over its limit, every attempt for that e-mail (or from that address) is refused until the
window moves on, right password or not.

Unlike the inbound limit, a login limit must not simply fail open: when Redis is down or skipped (the
web process's circuit breaker, bot.breaker), the counting moves to memory in this process. That is
weaker (each process counts alone, and the counts start again with the process) but never unlimited.
The keys are hashes: neither an e-mail nor an address is written to Redis.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot import redis_client
from bot.breaker import CircuitBreaker
from bot.config import Settings

log = logging.getLogger(__name__)


def _key(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class LoginLimiter:
    """`allowed(email, address)` before checking a password; `failed(email, address)` after a miss."""

    def __init__(self, settings: Settings, redis_url: str, breaker: CircuitBreaker | None = None) -> None:
        self.per_email = parse_many(settings.login_rate_limit)
        self.per_address = parse_many(settings.login_rate_limit_per_address)
        uri = (
            redis_url.replace("unix://", "redis+unix://", 1) if redis_url.startswith("unix://") else redis_url
        )
        storage = RedisStorage(uri, key_prefix="regua:login", **redis_client.inline_options(settings))
        self.shared = MovingWindowRateLimiter(storage)
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.breaker = breaker

    def _checks(self, email: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(limit, "email", _key(email)) for limit in self.per_email] + [
            (limit, "address", _key(address)) for limit in self.per_address
        ]

    def _run(self, call: Callable[[MovingWindowRateLimiter], bool]) -> bool:
        if self.breaker is None or self.breaker.allow():
            try:
                result = call(self.shared)
            except Exception as error:  # limits wraps redis errors in its own types
                log.warning("login limits counted in memory (Redis unavailable: %s)", type(error).__name__)
                if self.breaker is not None:
                    self.breaker.failed()
            else:
                if self.breaker is not None:
                    self.breaker.succeeded()
                return result
        return call(self.local)

    def allowed(self, email: str, address: str) -> bool:
        """False when the e-mail or the address is over its limit of failed logins (nothing is counted)."""
        checks = self._checks(email, address)
        return self._run(lambda limiter: all([limiter.test(*check) for check in checks]))

    def failed(self, email: str, address: str) -> None:
        """Count one failed login for the e-mail and for the address."""
        checks = self._checks(email, address)
        self._run(lambda limiter: all([limiter.hit(*check) for check in checks]))
