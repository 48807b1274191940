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
from datetime import datetime, timedelta
from typing import Any

from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from bot import redis_client
from bot.breaker import CircuitBreaker
from bot.config import Settings
from bot.models import Conversation, Direction, Message, utcnow

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


# Both counts in one query (a FILTER clause each): earlier inbound messages with the same text, and the
# distinct messages we answered, each within its window. Built once, with bound parameters (it runs for
# every message; see bot.conversation.leases on why).
_LOOP_COUNTS = select(
    func.count().filter(
        Message.direction == Direction.INBOUND,
        Message.id < bindparam("message_id"),
        Message.body == bindparam("body"),
        Message.created_at >= bindparam("same_text_since"),
    ),
    func.count(func.distinct(Message.in_reply_to_id)).filter(
        Message.direction == Direction.OUTBOUND,
        Message.created_at >= bindparam("answered_since"),
    ),
).where(
    Message.conversation_id == bindparam("conversation_id"),
    Message.created_at >= bindparam("since"),
)


def loop_facts(conversation_id: Any) -> dict[str, Any]:
    """The same two counts as scalar subqueries about the conversation `conversation_id` (an SQL
    expression), for the statement that reads them while it saves a new message (before it is inserted,
    so "earlier" needs no id): see `loop_params` for their parameters and `looks_like_reply_loop`."""
    earlier = aliased(Message)

    def count(what: Any, *where: Any) -> Any:
        return select(what).where(earlier.conversation_id == conversation_id, *where).scalar_subquery()

    return {
        "same_text": count(
            func.count(),
            earlier.direction == Direction.INBOUND,
            earlier.body == bindparam("loop_body", type_=Text),
            earlier.created_at >= bindparam("same_text_since", type_=earlier.created_at.type),
        ),
        "answered": count(
            func.count(func.distinct(earlier.in_reply_to_id)),
            earlier.direction == Direction.OUTBOUND,
            earlier.created_at >= bindparam("answered_since", type_=earlier.created_at.type),
        ),
    }


def loop_params(body: str, now: datetime) -> dict[str, Any]:
    """The parameters of `loop_facts` for a message with `body` arriving at `now`."""
    return {
        "loop_body": body,
        "same_text_since": now - SAME_TEXT_WINDOW,
        "answered_since": now - REPLIES_WINDOW,
    }


def looks_like_reply_loop(
    session: Session, conversation: Conversation, message: Message, counts: tuple[int, int] | None = None
) -> bool:
    """True when answering `message` would likely feed a loop with an automated sender. `counts` are
    `loop_facts` already read for it (same text, answered); without them they are queried."""
    if counts is None:
        now = utcnow()
        counts = session.execute(
            _LOOP_COUNTS,
            {
                "conversation_id": conversation.id,
                "message_id": message.id,
                "body": message.body,
                "same_text_since": now - SAME_TEXT_WINDOW,
                "answered_since": now - REPLIES_WINDOW,
                "since": now - max(SAME_TEXT_WINDOW, REPLIES_WINDOW),
            },
        ).one()
    same_text, answered = counts
    if message.body and (same_text or 0) >= SAME_TEXT_REPEATS - 1:
        return True
    return (answered or 0) >= MAX_ANSWERED
