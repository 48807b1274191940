"""Receiving a Twilio message: reading the webhook form, and saving it before anything else happens.

`parse_form` turns Twilio's form into an `Inbound` (or raises `BadInbound`); `store` saves it in the
caller's transaction, idempotently on Twilio's MessageSid: a retried or duplicated delivery (even one
delivered twice at the same moment) inserts nothing and is reported as a duplicate, so it never produces
a second reply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.conversation import first_look, identity
from bot.conversation.first_look import FirstLook
from bot.db import attach_row
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
    # of the transaction (the first look at the message) need not read them. When `store` claimed the
    # lease, the conversation's `lease_owner` says who holds the conversation now.
    conversation: Conversation | None = None
    message: Message | None = None
    # What the statement that claimed the lease read for the first look (None without a claim).
    first_look: FirstLook | None = None


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


# Built once, with bound parameters (see bot.conversation.leases on why).
_EXISTING = select(Message.id, Message.conversation_id).where(Message.provider_sid == bindparam("sid"))


def _conversation_for(
    session: Session, inbound: Inbound, owner: str | None, received_at: datetime | None
) -> tuple[Conversation, first_look.Recorded, tuple[Debtor | None] | None]:
    """The message's conversation, updated for it in one statement (bot.conversation.first_look.record:
    the last inbound time, the number it wrote to and, for `owner`, the lease), created first if new
    (linked to its debtor, if any); what that statement read; and, if the conversation had to be
    created, the debtor it looked up (in a tuple)."""
    channel = Channel(inbound.sender.channel)
    address = inbound.sender.e164
    now = received_at or utcnow()
    to = inbound.to or None
    recorded = first_look.record(session, channel, address, to, now, owner=owner, body=inbound.body)
    looked_up = None
    if recorded.row is None:  # a new conversation, linked to its debtor from the start
        debtor = identity.find_debtor(session, inbound.sender.canonical_e164)
        looked_up = (debtor,)
        # ON CONFLICT DO NOTHING: another request may create it at the same moment (no savepoint needed).
        session.execute(
            _dialect_insert(session)(Conversation)
            .values(channel=channel, address=address, debtor_id=debtor.id if debtor else None)
            .on_conflict_do_nothing(index_elements=[Conversation.channel, Conversation.address])
        )
        recorded = first_look.record(session, channel, address, to, now, owner=owner, body=inbound.body)
        assert recorded.row is not None
    # The row attached as the ORM object (see `db.attach_row`).
    return attach_row(session, Conversation, recorded.row), recorded, looked_up


def _insert_message(dialect_insert: Any) -> Any:
    # ON CONFLICT DO NOTHING: the same MessageSid delivered again inserts nothing (no savepoint needed
    # to survive the violation).
    columns = [c for c in Message.__table__.columns if c.key in _MESSAGE_VALUES]
    return (
        dialect_insert(Message)
        .values({c.key: bindparam(f"v_{c.key}", type_=c.type) for c in columns})
        .on_conflict_do_nothing(index_elements=[Message.provider_sid])
        .returning(Message.id)
    )


# The columns an inbound message is inserted with: those `store` sets, and NULL for the nullable ones
# with no default (so that the row attached to the session is complete; a column added later with a
# server default is left to the server, and loaded if read).
_MESSAGE_SET = (
    "conversation_id", "direction", "channel", "provider_sid", "body", "media", "status", "processing",
    "processing_note", "attempts", "created_at", "updated_at",
)  # fmt: skip
_MESSAGE_NULLS = {
    c.key: None
    for c in Message.__table__.columns
    if c.key not in _MESSAGE_SET and c.nullable and c.default is None and c.server_default is None
}
_MESSAGE_VALUES = {*_MESSAGE_SET, *_MESSAGE_NULLS}
_INSERT_MESSAGE = {"postgresql": _insert_message(postgresql.insert), "sqlite": _insert_message(sqlite.insert)}


def _dialect_insert(session: Session) -> Any:
    """INSERT with PostgreSQL's or SQLite's ON CONFLICT clause."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _existing(session: Session, sid: str) -> Stored | None:
    row = session.execute(_EXISTING, {"sid": sid}).first()
    return Stored(row.conversation_id, row.id, duplicate=True) if row is not None else None


def store(
    session: Session,
    inbound: Inbound,
    *,
    ignored: str | None = None,
    owner: str | None = None,
    received_at: datetime | None = None,
) -> Stored:
    """Save the message and its conversation (linking the debtor), idempotently on MessageSid.

    `ignored` stores the message without queuing it for the bot (e.g. "rate_limited"). `owner` claims
    the conversation's lease for it in the statement that records the message on the conversation,
    which also reads what the first look needs (`Stored.first_look`); `Stored.conversation.lease_owner`
    then says who holds it.
    A duplicate (a Twilio retry, or its twin delivered at the same moment) inserts nothing and is
    reported as such: the INSERT's conflict on the unique MessageSid is the one check, so a new
    message costs no look-up first. `received_at` is when the webhook received a message saved later
    (replayed from the spool, bot.conversation.spool): its `created_at` and the conversation's last inbound
    time.
    """
    conversation, recorded, looked_up = _conversation_for(session, inbound, owner, received_at)
    whatsapp = conversation.channel == Channel.WHATSAPP and inbound.wa_id is not None
    if conversation.debtor_id is None:  # new and unknown, or the debtor was imported since
        debtor = (
            looked_up[0]
            if looked_up is not None
            else identity.find_debtor(session, inbound.sender.canonical_e164)
        )
        if debtor is not None:
            conversation.debtor = debtor
            # Only the main number's: reminders go to the WhatsApp id, never to a relative's number.
            if whatsapp and identity.role_of(debtor, conversation.address) == identity.Role.PRIMARY:
                debtor.whatsapp_id = debtor.whatsapp_id or inbound.wa_id
    elif whatsapp and recorded.wa_id_unknown:
        session.execute(
            update(Debtor)
            .where(
                Debtor.id == conversation.debtor_id,
                Debtor.whatsapp_id.is_(None),
                Debtor.phone == inbound.sender.canonical_e164,  # the main number only (see above)
            )
            .values(whatsapp_id=inbound.wa_id)
            .execution_options(synchronize_session=False)
        )

    session.flush()  # a debtor just linked
    now = utcnow()
    created = received_at or now
    values = {
        **_MESSAGE_NULLS,
        "conversation_id": conversation.id,
        "direction": Direction.INBOUND,
        "channel": conversation.channel,
        "provider_sid": inbound.sid,
        "body": inbound.body,
        "media": inbound.media,
        "status": MessageStatus.RECEIVED,
        "processing": Processing.IGNORED if ignored else Processing.PENDING,
        "processing_note": ignored,
        "attempts": 0,
        "created_at": created,
        "updated_at": now,
    }
    insert = _INSERT_MESSAGE[session.get_bind().dialect.name]
    message_id = session.connection().execute(insert, {f"v_{k}": v for k, v in values.items()}).scalar()
    if message_id is None:  # already saved: a retried or duplicated delivery
        found = _existing(session, inbound.sid)
        assert found is not None
        return Stored(found.conversation_id, found.message_id, duplicate=True, conversation=conversation)
    # The row as an ORM object, in the session's identity map: the look reads it without a query.
    message = attach_row(session, Message, {**values, "id": message_id})
    return Stored(
        conversation.id,
        message.id,
        duplicate=False,
        conversation=conversation,
        message=message,
        first_look=recorded.first_look,
    )
