"""Receiving a message the webhook parsed: the one call `webhooks/twilio.py` makes into the engine.

`receive` does everything between parsing Twilio's form and rendering the answer: the per-number rate
limit, the replay of messages spooled while the database was down (they go first), saving the message
and claiming its conversation in one transaction (bot.conversation.claiming), answering it inline within
the time budget (bot.conversation.loop), and handing what must wait to the workers. It returns what
happened (`Received`): the replies to return as TwiML, if any. When the database fails the message is
spooled (bot.conversation.spool): Twilio does not retry message webhooks.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.conversation import claiming, inbound, leases, loop
from bot.conversation.abuse import InboundRateLimiter
from bot.conversation.spool import Spool
from bot.delivery.outgoing import Outgoing
from bot.observability.instruments import instruments
from bot.runtime import Services

log = logging.getLogger(__name__)

# Inline answering starts no new message, and sends no reply, after this long from the message's arrival;
# later messages of a burst and late replies go to the workers. The worst case is this budget plus one
# Rasa call (`webhooks.extensions.INLINE_RASA_TIMEOUT_SECONDS`) or one Twilio send (5 s): far inside
# Twilio's 15 seconds.
INLINE_BUDGET_SECONDS = 1.0


class Outcome(enum.StrEnum):
    """What became of a received message."""

    ANSWERED = "answered"  # saved, and answered (or being answered) inline
    LEFT_FOR_WORKERS = "left_for_workers"  # saved; a worker answers it (RQ, or the sweep)
    DUPLICATE = "duplicate"  # the same MessageSid was saved before: not answered again
    RATE_LIMITED = "rate_limited"  # saved, not answered: the number is over the inbound rate limit
    SPOOLED = "spooled"  # not saved yet: kept in the spool for the replay


@dataclass(frozen=True)
class Received:
    """What `receive` did, and the replies to return in the webhook's TwiML response (empty: an empty
    `<Response/>`; the replies went through the REST API, or there were none)."""

    outcome: Outcome
    replies: list[Outgoing] = field(default_factory=list)


def _counted(receive_one: Callable[..., Received]) -> Callable[..., Received]:
    """`receive_one`, counting each message it received by channel and outcome, whichever way it returns."""

    @functools.wraps(receive_one)
    def counting(services: Services, message: inbound.Inbound, *args: Any, **kwargs: Any) -> Received:
        received = receive_one(services, message, *args, **kwargs)
        instruments().messages.labels("in", message.sender.channel, received.outcome.value).inc()
        return received

    return counting


@_counted
def receive(
    services: Services,
    message: inbound.Inbound,
    form: Mapping[str, str],
    *,
    limiter: InboundRateLimiter,
    spool: Spool,
    hold: bool,
) -> Received:
    """Save `message` (parsed from Twilio's `form`) and answer it within `INLINE_BUDGET_SECONDS`; what
    waits goes to the workers. With `hold`, the replies come back in `Received.replies` for the TwiML
    response instead of being sent. `limiter` and `spool` are the web process's (webhooks.extensions).
    Each message is counted by channel and outcome (`regua_messages_total{direction="in"}`, `_counted`)."""
    received_at = time.time()
    deadline = time.monotonic() + INLINE_BUDGET_SECONDS
    allowed = limiter.allow(message.sender.canonical_e164)
    ignored = None if allowed else "rate_limited"
    # Messages spooled while the database was down go first (oldest first, within the budget); while
    # any still wait, this one queues behind them, so it never overtakes an older one.
    if spool.pending():
        spool.replay(services.database, services.later, deadline)
        if spool.pending():
            return _spool(spool, form, received_at, ignored, "older messages are still spooled")
    try:
        return _store_and_answer(services, message, ignored, deadline, hold)
    except SQLAlchemyError as error:
        # Twilio does not retry a failed message webhook: keep the message for the replay instead.
        why = f"the database is unavailable ({type(error).__name__})"
        return _spool(spool, form, received_at, ignored, why)


def _spool(
    spool: Spool, form: Mapping[str, str], received_at: float, ignored: str | None, why: str
) -> Received:
    """Spool the form. No notice goes to the debtor: without the database Régua cannot check an opt-out,
    a human handoff or the reply-loop guard, nor record the reply; the answer comes with the replay."""
    where = spool.append(form, received_at, ignored)
    log.warning("message spooled (%s): %s", where, why)  # never the form: it holds the message
    return Received(Outcome.SPOOLED)


def _store_and_answer(
    services: Services, message: inbound.Inbound, ignored: str | None, deadline: float, hold: bool
) -> Received:
    """Save the message, answer it within `deadline`, hand what waits to the workers. A database failure
    raises `SQLAlchemyError` (nothing is answered then)."""
    database = services.database
    # One pooled connection for the whole request; the message is saved, the conversation claimed (in
    # the same UPDATE that records the message on it) and the message looked at in one transaction,
    # committed before Rasa is asked or anything is sent.
    owner = leases.new_owner() if ignored is None else None
    with database.one_connection():
        try:
            with database.session() as session:
                if owner is None:
                    stored, lease = inbound.store(session, message, ignored=ignored), None
                else:
                    stored, lease = claiming.store_and_claim(services, session, message, owner)
        except SQLAlchemyError:
            raise  # the database itself failed: the caller spools the message
        except Exception:
            # Looking at the message failed (a bug): save it on its own, pending, for a worker to try
            # again; a message is never lost to an error in answering it.
            log.exception("message could not be looked at inline; saved for the workers")
            with database.session() as session:
                stored = inbound.store(session, message, ignored=ignored)
            lease = None
        if stored.duplicate:
            log.info("message %s already received; not answered again", stored.message_id)
            return Received(Outcome.DUPLICATE)
        if ignored is not None:
            log.warning(
                "message %s stored without answer: number over the inbound rate limit", stored.message_id
            )
            return Received(Outcome.RATE_LIMITED)
        if lease is None:
            services.later.process(stored.conversation_id)
            return Received(Outcome.LEFT_FOR_WORKERS)
        inline = loop.answer_inline(services, stored.conversation_id, deadline, lease, hold=hold)
        if inline.left and claiming.has_ready_message(database, stored.conversation_id):
            # Left for later (Rasa down or slow, a backlog beyond the budget, a conversation another
            # process holds): the workers take it through RQ, or the sweep if Redis is down.
            services.later.process(stored.conversation_id)
            return Received(Outcome.LEFT_FOR_WORKERS, inline.replies)
        return Received(Outcome.ANSWERED, inline.replies)
