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

from sqlalchemy import String, Update, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import identity, leases
from bot.models import Channel, Conversation, Debtor, Direction, Message, MessageStatus, Processing, utcnow
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
    # of the transaction (the first look at the message) need not read them. With `store(lease_owner=...)`
    # the conversation's `lease_owner` says who holds the conversation now.
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


# Statements built once, with bound parameters (see bot.leases on why).
_EXISTING = select(Message.id, Message.conversation_id).where(Message.provider_sid == bindparam("sid"))
_TOUCH_VALUES = {
    "last_inbound_at": bindparam("now"),
    # Replies go out from the number the debtor last wrote to.
    "our_address": func.coalesce(bindparam("to", type_=String), Conversation.our_address),
}


def _touch(values: Mapping[str, Any]) -> Update:
    # With the debtor's "WhatsApp id unknown" flag, read in the same statement (RETURNING), so that
    # recording the id costs no query of its own.
    wa_id_unknown = (
        select(Debtor.whatsapp_id.is_(None))
        .where(Debtor.id == Conversation.debtor_id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return (
        update(Conversation)
        .where(Conversation.channel == bindparam("b_channel"), Conversation.address == bindparam("b_address"))
        .values({**_TOUCH_VALUES, **values})
        .returning(Conversation, wa_id_unknown)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


_TOUCH = _touch({})
_TOUCH_AND_CLAIM = _touch(leases.CLAIM_VALUES)


def _touch_conversation(
    session: Session, inbound: Inbound, lease_owner: str | None
) -> tuple[Conversation, bool]:
    """The message's conversation, updated for it in one statement (last inbound time, the number it
    wrote to, and the lease claim for `lease_owner`), created first if new; and whether its debtor's
    WhatsApp id is unknown."""
    channel = Channel(inbound.sender.channel)
    address = inbound.sender.e164
    now = utcnow()
    params = {"b_channel": channel, "b_address": address, "now": now, "to": inbound.to or None}
    touch = _TOUCH
    if lease_owner is not None:
        touch, params = _TOUCH_AND_CLAIM, {**params, **leases.claim_params(lease_owner, now)}
    row = session.execute(touch, params).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(Conversation(channel=channel, address=address))
        except IntegrityError:  # another request created it a moment ago
            pass
        row = session.execute(touch, params).one()
    return row[0], bool(row[1])


def _existing(session: Session, sid: str) -> Stored | None:
    row = session.execute(_EXISTING, {"sid": sid}).first()
    return Stored(row.conversation_id, row.id, duplicate=True) if row is not None else None


def store(
    session: Session, inbound: Inbound, *, ignored: str | None = None, lease_owner: str | None = None
) -> Stored:
    """Save the message and its conversation (linking the debtor), idempotently on MessageSid.

    `ignored` stores the message without queuing it for the bot (e.g. "rate_limited"). `lease_owner`
    also claims the conversation's lease for it (`bot.leases`), in the statement that records the
    message on its conversation; `Stored.conversation.lease_owner` then says who holds it. A duplicate
    changes nothing, except in a race with its twin (then `Stored.conversation` is the updated row).
    """
    existing = _existing(session, inbound.sid)
    if existing is not None:
        return existing

    conversation, wa_id_unknown = _touch_conversation(session, inbound, lease_owner)
    whatsapp = conversation.channel == Channel.WHATSAPP and inbound.wa_id is not None
    if conversation.debtor_id is None:
        debtor = identity.find_debtor(session, inbound.sender.canonical_e164, inbound.wa_id)
        if debtor is not None:
            conversation.debtor = debtor
            if whatsapp:
                debtor.whatsapp_id = debtor.whatsapp_id or inbound.wa_id
    elif whatsapp and wa_id_unknown:
        session.execute(
            update(Debtor)
            .where(Debtor.id == conversation.debtor_id, Debtor.whatsapp_id.is_(None))
            .values(whatsapp_id=inbound.wa_id)
            .execution_options(synchronize_session=False)
        )

    session.flush()  # a debtor just linked
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
    # (no savepoint needed to survive the unique violation). (Built per call: as an ORM bulk INSERT with
    # parameters it costs more.)
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
        return Stored(found.conversation_id, found.message_id, duplicate=True, conversation=conversation)
    return Stored(conversation.id, message.id, duplicate=False, conversation=conversation, message=message)
