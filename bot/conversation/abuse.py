"""Abuse limits on inbound messages: a per-number rate limit and a guard against reply loops.

* Rate limit (`INBOUND_RATE_LIMIT`, default 20/minute, 200/hour, 1000/day per number), shared by every web
  process through Redis with the `limits` library. A flood from one number is stored (nothing is lost)
  but not answered, so it can neither starve other debtors nor run up the bill. If Redis is down, or
  hangs (a short timeout, then the web process's circuit breaker skips it for a cool-down), the limit is
  not enforced (fail open): answering debtors matters more than counting.
* Reply loops (Twilio error 14107 is what a loop between two bots ends in): an automated sender that
  repeats itself, or a conversation where we already answered many of its messages in the last
  minutes, gets no more automatic replies.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot import redis_client
from bot.breaker import CircuitBreaker
from bot.config import Settings

log = logging.getLogger(__name__)

# Reply-loop guard: the same text this many times within the window means an automated sender...
SAME_TEXT_REPEATS = 3
SAME_TEXT_WINDOW = timedelta(minutes=5)
# ...and so does us answering this many of its messages within the window (a "segunda via" is several
# messages for one question, so answered questions are counted, not messages).
MAX_ANSWERED = 10
REPLIES_WINDOW = timedelta(minutes=2)


class InboundRateLimiter:
    """Counts inbound messages per number in Redis; `allow(number)` says whether to answer this one."""

    def __init__(self, settings: Settings, redis_url: str, breaker: CircuitBreaker | None = None) -> None:
        self.limits = parse_many(settings.inbound_rate_limit)
        uri = (
            redis_url.replace("unix://", "redis+unix://", 1) if redis_url.startswith("unix://") else redis_url
        )
        # The inline path's short timeouts and no retries (see bot.redis_client.inline_options).
        self.storage = RedisStorage(uri, key_prefix="regua:limits", **redis_client.inline_options(settings))
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.breaker = breaker

    def allow(self, number: str) -> bool:
        """Count one message from `number`; False when it is over any of the limits."""
        if self.breaker is not None and not self.breaker.allow():
            return True  # Redis is being skipped (circuit open): fail open without waiting for it
        try:
            allowed = all([self.limiter.hit(limit, "inbound", number) for limit in self.limits])
        except Exception as error:  # limits wraps redis errors in its own types; any failure fails open
            log.warning("inbound rate limit not enforced (Redis unavailable: %s)", type(error).__name__)
            if self.breaker is not None:
                self.breaker.failed()
            return True
        if self.breaker is not None:
            self.breaker.succeeded()
        return allowed


def looks_like_reply_loop(body: str, same_text: int, answered: int) -> bool:
    """True when answering a message with `body` would likely feed a loop with an automated sender:
    `same_text` earlier inbound messages of its conversation had the same text within
    `SAME_TEXT_WINDOW`, and we answered `answered` of its messages within `REPLIES_WINDOW` (both read
    by bot.conversation.first_look)."""
    if body and same_text >= SAME_TEXT_REPEATS - 1:
        return True
    return answered >= MAX_ANSWERED
