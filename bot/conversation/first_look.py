"""What the first look at a message needs to know, each check defined once, and the webhook's fused
statement that reads it all in the round trip that records the message on its conversation.

The checks, about one conversation:

* the oldest pending inbound message and its retry time: it decides which message is ready (a message
  waiting for its retry holds the ones after it);
* the reply-loop counts (bot.conversation.abuse decides with them): earlier inbound messages with the same
  text, and the distinct messages we answered, each within its window;
* whether an agreement offer is pending (open or chosen, expired or not): without one the look skips
  `agreements.current_offer`;
* whether the debtor's WhatsApp id is still unknown (`store` then records it, without a query of its own).

`record` runs them inside the UPDATE that records a message on its conversation (last inbound time, the
number it wrote to) and, for the webhook, claims the conversation's lease: one round trip instead of five
(docs/conversation.md counts a turn's statements). Without that statement (a worker's claim, the next
message of a burst), `ready_message` and `facts_for` run the same subqueries in plain SELECTs. Every
statement is built once, at import, with bound parameters (see bot.conversation.leases on why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.conversation import abuse, leases
from bot.models import (
    AgreementOffer,
    Channel,
    Conversation,
    Debtor,
    Direction,
    Message,
    OfferStatus,
    Processing,
    as_utc,
)


@dataclass(frozen=True)
class Facts:
    """What the look at one message needs about its conversation (besides the rows themselves)."""

    same_text: int  # earlier inbound messages with the same text within abuse.SAME_TEXT_WINDOW
    answered: int  # distinct messages answered within abuse.REPLIES_WINDOW
    offer_pending: bool  # an open or chosen agreement offer, expired or not


@dataclass(frozen=True)
class FirstLook:
    """What the webhook's statement read, before the new message was inserted: the oldest message
    already pending (None: the new one is next) and its retry time, and the new message's `Facts`."""

    older_id: int | None
    older_retry_at: datetime | None
    facts: Facts

    def ready(self, new_message_id: int, now: datetime) -> int | None:
        """The message to handle now: the new one if nothing older waits, the older one if its retry
        is due, else None (the new message waits behind it)."""
        if self.older_id is None:
            return new_message_id
        retry_at = as_utc(self.older_retry_at)
        return self.older_id if retry_at is None or retry_at <= now else None


@dataclass(frozen=True)
class Recorded:
    """What `record` returned: the conversation's row (None: no such conversation yet), whether its
    debtor's WhatsApp id is unknown, and, when it claimed the lease, the `FirstLook`."""

    row: Mapping[str, Any] | None
    wa_id_unknown: bool = False
    first_look: FirstLook | None = None


# --- The checks, each a subquery about the conversation whose id is `conversation_id` (an expression).

_earlier = aliased(Message)


def _oldest_pending(conversation_id: Any) -> Any:
    return (
        select(_earlier.id, _earlier.next_attempt_at)
        .where(
            _earlier.conversation_id == conversation_id,
            _earlier.direction == Direction.INBOUND,
            _earlier.processing == Processing.PENDING,
        )
        .order_by(_earlier.id)
        .limit(1)
    )


def _same_text(conversation_id: Any, *also: Any) -> Any:
    return (
        select(func.count())
        .where(
            _earlier.conversation_id == conversation_id,
            _earlier.direction == Direction.INBOUND,
            _earlier.body == bindparam("loop_body", type_=Text),
            _earlier.created_at >= bindparam("same_text_since", type_=_earlier.created_at.type),
            *also,
        )
        .scalar_subquery()
    )


def _answered(conversation_id: Any) -> Any:
    return (
        select(func.count(func.distinct(_earlier.in_reply_to_id)))
        .where(
            _earlier.conversation_id == conversation_id,
            _earlier.direction == Direction.OUTBOUND,
            _earlier.created_at >= bindparam("answered_since", type_=_earlier.created_at.type),
        )
        .scalar_subquery()
    )


def _offer_pending(conversation_id: Any) -> Any:
    return (
        select(AgreementOffer.id)
        .where(
            AgreementOffer.conversation_id == conversation_id,
            AgreementOffer.status.in_([OfferStatus.OPEN, OfferStatus.CHOSEN]),
        )
        .exists()
    )


def _loop_params(body: str, now: datetime) -> dict[str, Any]:
    return {
        "loop_body": body,
        "same_text_since": now - abuse.SAME_TEXT_WINDOW,
        "answered_since": now - abuse.REPLIES_WINDOW,
    }


# --- The webhook's fused statement.

# The conversation's id as a subquery on its key, not a correlation: SQLite renders RETURNING columns
# unqualified, and inside a subquery on messages `id` would be the message's.
_other = aliased(Conversation)
_THIS_ID = (
    select(_other.id)
    .where(_other.channel == bindparam("b_channel"), _other.address == bindparam("b_address"))
    .scalar_subquery()
)
_WA_ID_UNKNOWN = (
    select(Debtor.whatsapp_id.is_(None))
    .where(Debtor.id == Conversation.debtor_id)
    .correlate(Conversation)
    .scalar_subquery()
    .label("wa_id_unknown")
)
_RECORD_VALUES = {
    "last_inbound_at": bindparam("now"),
    # Replies go out from the number the debtor last wrote to.
    "our_address": func.coalesce(bindparam("to", type_=String), Conversation.our_address),
}
# The lease, taken when it is free and left as it is otherwise (the row then names its holder). Typed:
# inside CASE a parameter would not get the column's type (nor its UTC conversion) by itself.
_FREE = leases.is_free(bindparam("claim_now"))
_CLAIM_VALUES = {
    "lease_owner": case(
        (_FREE, bindparam("claim_owner", type_=Conversation.lease_owner.type)),
        else_=Conversation.lease_owner,
    ),
    "lease_expires_at": case(
        (_FREE, bindparam("claim_until", type_=Conversation.lease_expires_at.type)),
        else_=Conversation.lease_expires_at,
    ),
}
_KEY = (Conversation.channel == bindparam("b_channel"), Conversation.address == bindparam("b_address"))
_RECORD = update(Conversation).where(*_KEY).values(_RECORD_VALUES).returning(Conversation, _WA_ID_UNKNOWN)
_older = _oldest_pending(_THIS_ID)
_RECORD_AND_CLAIM = (
    update(Conversation)
    .where(*_KEY)
    .values({**_RECORD_VALUES, **_CLAIM_VALUES})
    .returning(
        Conversation,
        _WA_ID_UNKNOWN,
        _older.with_only_columns(_earlier.id).scalar_subquery().label("older_id"),
        _older.with_only_columns(_earlier.next_attempt_at).scalar_subquery().label("older_retry_at"),
        _same_text(_THIS_ID).label("same_text"),
        _answered(_THIS_ID).label("answered"),
        _offer_pending(_THIS_ID).label("offer_pending"),
    )
)


def record(
    session: Session,
    channel: Channel,
    address: str,
    to: str | None,
    now: datetime,
    *,
    owner: str | None = None,
    body: str = "",
) -> Recorded:
    """Record a message arriving at `now` on its conversation (last inbound time, the number it wrote
    to), in the caller's transaction, before the message itself is inserted. With `owner`, claim the
    conversation's lease for it in the same statement (if free) and read the `FirstLook` for the new
    message (whose text is `body`); the row's `lease_owner` then says who holds the conversation."""
    params: dict[str, Any] = {"b_channel": channel, "b_address": address, "now": now, "to": to}
    statement = _RECORD
    if owner is not None:
        statement = _RECORD_AND_CLAIM
        until = now + leases.LEASE
        params |= {"claim_owner": owner, "claim_now": now, "claim_until": until, **_loop_params(body, now)}
    # On the session's connection (Core): see bot.db.attach_row.
    row = session.connection().execute(statement, params).mappings().first()
    if row is None:
        return Recorded(None)
    look = None
    if owner is not None:
        facts = Facts(row["same_text"] or 0, row["answered"] or 0, bool(row["offer_pending"]))
        look = FirstLook(row["older_id"], row["older_retry_at"], facts)
    return Recorded(row, bool(row["wa_id_unknown"]), look)


# --- The same checks on their own, for a look without the fused statement.

_READY = _oldest_pending(bindparam("conversation_id"))
_conversation_id = bindparam("conversation_id")
_FACTS = select(
    _same_text(_conversation_id, _earlier.id < bindparam("message_id")).label("same_text"),
    _answered(_conversation_id).label("answered"),
    _offer_pending(_conversation_id).label("offer_pending"),
)
# Release the held conversation unless a message is ready (pending, and not waiting for its retry).
_oldest = _READY.subquery()
_RELEASE_IF_IDLE = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.lease_owner == bindparam("owner"),
        ~select(_oldest.c.id)
        .where(or_(_oldest.c.next_attempt_at.is_(None), _oldest.c.next_attempt_at <= bindparam("now")))
        .exists(),
    )
    .values(lease_owner=None, lease_expires_at=None)
    .execution_options(synchronize_session=False)
)


def ready_message(session: Session, conversation_id: int, now: datetime) -> int | None:
    """The conversation's oldest pending inbound message if it may be handled now (not waiting for a
    retry)."""
    row = session.connection().execute(_READY, {"conversation_id": conversation_id}).first()
    if row is None:
        return None
    retry_at = as_utc(row.next_attempt_at)
    return row.id if retry_at is None or retry_at <= now else None


def facts_for(session: Session, message: Message, now: datetime) -> Facts:
    """The `Facts` for a message already saved (only messages before it count as earlier)."""
    params = {"conversation_id": message.conversation_id, "message_id": message.id}
    row = session.connection().execute(_FACTS, params | _loop_params(message.body, now)).one()
    return Facts(row.same_text or 0, row.answered or 0, bool(row.offer_pending))


def release_if_idle(session: Session, conversation_id: int, owner: str, now: datetime) -> bool:
    """Release `owner`'s lease on the conversation unless a message is ready, in one statement; True if
    released (the same readiness as `ready_message`)."""
    params = {"conversation_id": conversation_id, "owner": owner, "now": now}
    return bool(session.connection().execute(_RELEASE_IF_IDLE, params).rowcount)  # type: ignore[attr-defined]
