"""Receiving a Twilio message: reading the webhook form, and saving it before anything else happens.

`parse_form` turns Twilio's form into an `Inbound` (or raises `BadInbound`); `store` saves it in the
caller's transaction, idempotently on Twilio's MessageSid: a retried or duplicated delivery finds the row
already there (or, delivered twice at the same moment, inserts nothing) and is reported as a duplicate,
so it never produces a second reply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import identity
from bot.models import Channel, Conversation, Direction, Message, MessageStatus, Processing, utcnow
from bot.phones import Address, InvalidPhone, parse_address

log = logging.getLogger(__name__)

# Twilio caps a message at 1,600 characters; anything longer is not from Twilio's messaging API.
MAX_BODY_CHARS = 4000
MAX_MEDIA = 10


class BadInbound(ValueError):
    """The webhook form is not a usable Twilio message; the message says what is missing."""


class AutomatedSender(BadInbound):
    """The sender is not a phone number (a short code or an alphanumeric sender): never answered."""


@dataclass(frozen=True)
class Inbound:
    """A message as Twilio delivered it."""

    sid: str
    sender: Address
    to: str
    body: str
    media: list[dict[str, Any]] = field(default_factory=list)
    wa_id: str | None = None


@dataclass(frozen=True)
class Stored:
    """Where `store` put the message."""

    conversation_id: int
    message_id: int
    duplicate: bool
    # The rows, loaded in the caller's session: holding them keeps them in its identity map, so the rest
    # of the transaction (the conversation's claim, the first look at the message) need not read them.
    conversation: Conversation | None = None
    message: Message | None = None


def parse_form(form: Mapping[str, str]) -> Inbound:
    """Read Twilio's webhook parameters (MessageSid, From, To, Body, NumMedia, MediaUrlN, WaId)."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    raw_from = (form.get("From") or "").strip()
    if not sid or len(sid) > 64:
        raise BadInbound("MessageSid is missing or malformed")
    if not raw_from:
        raise BadInbound("From is missing")
    try:
        sender = parse_address(raw_from)
    except (InvalidPhone, ValueError):
        raise AutomatedSender("From is not a phone number") from None
    try:
        count = min(int(form.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        raise BadInbound("NumMedia is not a number") from None
    media = [
        {"url": form[f"MediaUrl{i}"], "content_type": form.get(f"MediaContentType{i}")}
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    ]
    wa_id = (form.get("WaId") or "").strip() or None
    body = form.get("Body") or ""
    return Inbound(
        sid=sid,
        sender=sender,
        to=(form.get("To") or "").strip()[:40],
        body=body[:MAX_BODY_CHARS],
        media=media,
        wa_id=wa_id if wa_id and wa_id.isdigit() else None,
    )


def _conversation(session: Session, inbound: Inbound) -> Conversation:
    channel = Channel(inbound.sender.channel)
    query = select(Conversation).where(
        Conversation.channel == channel, Conversation.address == inbound.sender.e164
    )
    found = session.scalar(query)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            conversation = Conversation(channel=channel, address=inbound.sender.e164)
            session.add(conversation)
        return conversation
    except IntegrityError:  # another request created it a moment ago
        return session.scalars(query).one()


def _existing(session: Session, sid: str) -> Stored | None:
    row = session.execute(
        select(Message.id, Message.conversation_id).where(Message.provider_sid == sid)
    ).first()
    return Stored(row.conversation_id, row.id, duplicate=True) if row is not None else None


def store(session: Session, inbound: Inbound, *, ignored: str | None = None) -> Stored:
    """Save the message and its conversation (linking the debtor), idempotently on MessageSid.

    `ignored` stores the message without queuing it for the bot (e.g. "rate_limited").
    """
    existing = _existing(session, inbound.sid)
    if existing is not None:
        return existing

    conversation = _conversation(session, inbound)
    if conversation.debtor_id is None:
        debtor = identity.find_debtor(session, inbound.sender.canonical_e164, inbound.wa_id)
        if debtor is not None:
            conversation.debtor = debtor
    debtor = conversation.debtor
    if debtor is not None and inbound.wa_id and conversation.channel == Channel.WHATSAPP:
        debtor.whatsapp_id = debtor.whatsapp_id or inbound.wa_id
    conversation.our_address = inbound.to or conversation.our_address
    conversation.last_inbound_at = utcnow()

    session.flush()  # the conversation's id, for the message row
    values = {
        "conversation_id": conversation.id,
        "direction": Direction.INBOUND,
        "channel": conversation.channel,
        "provider_sid": inbound.sid,
        "body": inbound.body,
        "media": inbound.media,
        "status": MessageStatus.RECEIVED,
        "processing": Processing.IGNORED if ignored else Processing.PENDING,
        "processing_note": ignored,
    }
    # ON CONFLICT DO NOTHING: the same MessageSid delivered twice at the same moment inserts nothing
    # (no savepoint needed to survive the unique violation).
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    message = session.scalar(
        dialect_insert(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Message.provider_sid])
        .returning(Message)  # the new row as an ORM object, in the session's identity map
    )
    if message is None:  # another request saved it after our check above
        found = _existing(session, inbound.sid)
        assert found is not None
        return found
    return Stored(conversation.id, message.id, duplicate=False, conversation=conversation, message=message)
