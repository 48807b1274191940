"""Outgoing messages: saved before anything is sent, then claimed by one deliverer.

The row of every outgoing message is committed as `pending` before it is handed to the provider; a
deliverer claims it with a conditional UPDATE (`pending` -> `sending`, so two processes never send the
same row) and gets it back as an `Outgoing`: what `bot.delivery.sending.deliver` hands to the provider.
Bot replies are inserted already claimed when nothing older of their conversation waits (one statement
instead of two, on the hot path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from bot.channels import OutboundRequest
from bot.channels.splitting import WHATSAPP_MAX_CHARS, split_text
from bot.channels.twiml import status_callback_url
from bot.config import Settings
from bot.models import Channel, Conversation, Direction, Message, MessageStatus, as_utc, utcnow


@dataclass(frozen=True)
class Reply:
    """Something to tell the debtor: text and optional media (image URLs)."""

    text: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outgoing:
    """A saved outgoing message claimed for sending (`sending`): its row, its conversation, what to hand
    to the provider, and which attempt this is (1 for the first)."""

    message_id: int
    conversation_id: int
    request: OutboundRequest
    attempt: int


class Claimed(NamedTuple):
    """A conversation's messages claimed for sending, in order, and when the first one still waiting for
    a retry is due (the messages after it wait behind it), if one waits."""

    outgoing: list[Outgoing]
    waits_until: datetime | None


def _reply_rows(
    settings: Settings, conversation: Conversation, replies: list[Reply], in_reply_to_id: int | None
) -> list[dict[str, object]]:
    """The outbound message rows for `replies` (split for the channel), as column values.

    SMS carries no media in Brazil, so an image becomes a link at the end of the text.
    """
    rows: list[dict[str, object]] = []
    for reply in replies:
        text, media = reply.text.strip(), list(reply.media_urls)
        if conversation.channel == Channel.SMS:
            text = "\n".join([text, *media]).strip()
            media = []
            parts = split_text(text, settings.sms_part_max_chars)
        else:
            parts = split_text(text, WHATSAPP_MAX_CHARS) or ([""] if media else [])
        for index, part in enumerate(parts):
            rows.append(
                {
                    "conversation_id": conversation.id,
                    "direction": Direction.OUTBOUND,
                    "channel": conversation.channel,
                    "body": part,
                    "media": [{"url": url, "content_type": None} for url in media] if index == 0 else [],
                    "in_reply_to_id": in_reply_to_id,
                }
            )
    return rows


def save_replies(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    replies: list[Reply],
    *,
    in_reply_to_id: int | None = None,
) -> list[Message]:
    """Save `replies` as pending outbound messages of `conversation` (split for the channel); return them.
    Whoever commits them then has them delivered (a delivery job, `claim_conversation` + `deliver`)."""
    rows = [
        Message(**row, status=MessageStatus.PENDING)  # type: ignore[arg-type]
        for row in _reply_rows(settings, conversation, replies, in_reply_to_id)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _pending_reply(reply: Any, conversation_id: str) -> Any:
    """One of a conversation's replies still `pending` (waiting to be handed over, or for a retry)."""
    return (
        select(reply.id)
        .where(
            reply.conversation_id == bindparam(conversation_id),
            reply.direction == Direction.OUTBOUND,
            reply.status == MessageStatus.PENDING,
        )
        .limit(1)
    )


# Statements of every turn, built once (see bot.conversation.leases on why).
_OLDER_PENDING = _pending_reply(Message, "conversation_id")
_INSERT_RETURNING_IDS = insert(Message).returning(Message.id, sort_by_parameter_order=True)


def older_pending_reply() -> Any:
    """`_pending_reply` as a scalar subquery (its id, or NULL), for the RETURNING of a statement that runs
    just before `save_and_claim` (parameter `reply_conversation_id`)."""
    return _pending_reply(aliased(Message), "reply_conversation_id").scalar_subquery()


def save_and_claim(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    replies: list[Reply],
    *,
    in_reply_to_id: int | None = None,
    older_pending: bool | None = None,
) -> Claimed:
    """`save_replies` then `claim_conversation`, in the caller's transaction, in fewer statements.

    When none of the conversation's older replies is still pending (the usual case), the new ones are
    inserted already claimed (`sending`, first attempt) in one statement and their requests built from
    what was inserted; otherwise they are queued behind the older ones, and claimed in order.
    `older_pending` says which, when the caller already read it (`older_pending_reply`)."""
    if older_pending is None:
        older_pending = session.scalar(_OLDER_PENDING, {"conversation_id": conversation.id}) is not None
    if older_pending:
        save_replies(session, settings, conversation, replies, in_reply_to_id=in_reply_to_id)
        return claim_conversation(session, settings, conversation.id)
    rows = _reply_rows(settings, conversation, replies, in_reply_to_id)
    if not rows:
        return Claimed([], None)
    now = utcnow()
    claimed = [{**row, "status": MessageStatus.SENDING, "attempts": 1, "updated_at": now} for row in rows]
    ids = session.connection().execute(_INSERT_RETURNING_IDS, claimed).scalars().all()
    callback = _status_callback(settings)
    return Claimed(
        [
            Outgoing(
                message_id, conversation.id, request(conversation, row["body"], row["media"], callback), 1
            )  # type: ignore[arg-type]
            for message_id, row in zip(ids, rows, strict=True)
        ],
        None,
    )


def _status_callback(settings: Settings) -> str | None:
    return None if settings.sandbox else status_callback_url(settings)


def request(
    conversation: Conversation,
    body: str,
    media: list[dict[str, str | None]] | None,
    callback: str | None,
    content_sid: str | None = None,
    content_variables: dict[str, str] | None = None,
) -> OutboundRequest:
    """What to hand to the provider for a message of `conversation` (also what a look-up matches)."""
    return OutboundRequest(
        channel=conversation.channel,
        to=conversation.address,
        body=body,
        media_urls=[m["url"] for m in media or [] if m.get("url")],  # type: ignore[misc]
        from_=conversation.our_address,
        status_callback=callback,
        content_sid=content_sid,
        content_variables=content_variables,
    )


def claim(session: Session, settings: Settings, message_ids: list[int]) -> list[Outgoing]:
    """Claim the pending, due messages among `message_ids` (`pending` -> `sending`, one conditional
    UPDATE) in the caller's transaction, which must commit before anything is sent; in id order."""
    if not message_ids:
        return []
    now = utcnow()
    claimed = set(
        session.scalars(
            update(Message)
            .where(
                Message.id.in_(message_ids),
                Message.status == MessageStatus.PENDING,
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .values(status=MessageStatus.SENDING, attempts=Message.attempts + 1, updated_at=now)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    messages = session.scalars(
        select(Message)
        .options(selectinload(Message.conversation))
        .where(Message.id.in_(claimed))
        .execution_options(populate_existing=True)  # the UPDATE above changed rows this session may hold
    ).all()
    callback = _status_callback(settings)
    return [
        Outgoing(
            message.id,
            message.conversation_id,
            request(
                message.conversation,
                message.body,
                message.media,
                callback,
                message.content_sid,
                message.content_variables,
            ),
            message.attempts,
        )
        for message in sorted(messages, key=lambda m: m.id)
    ]


def claim_conversation(session: Session, settings: Settings, conversation_id: int) -> Claimed:
    """Claim the conversation's pending outbound messages that are due, in order, in the caller's
    transaction: all of them up to the first that waits for a retry (the ones after it wait behind it)."""
    rows = session.execute(
        select(Message.id, Message.next_attempt_at)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.PENDING,
        )
        .order_by(Message.id)
    ).all()
    now = utcnow()
    due: list[int] = []
    waits_until = None
    for row in rows:
        retry_at = as_utc(row.next_attempt_at)
        if retry_at is not None and retry_at > now:
            waits_until = retry_at
            break
        due.append(row.id)
    return Claimed(claim(session, settings, due), waits_until)
