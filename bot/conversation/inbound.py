"""Receiving a Twilio message: reading the webhook form, and saving it before anything else happens.

`parse_form` turns Twilio's form into an `Inbound` (or raises `BadInbound`); `store` saves it in the
caller's transaction, idempotently on Twilio's MessageSid: a retried or duplicated delivery (even one
delivered twice at the same moment) inserts nothing and is reported as a duplicate, so it never produces
a second reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, Update, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from bot.conversation import identity
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
    # of the transaction (the first look at the message) need not read them. With a `Touch` that claims
    # the lease, the conversation's `lease_owner` says who holds the conversation now.
    conversation: Conversation | None = None
    message: Message | None = None
    # What the `Touch` statement's facts read, by name (empty without one).
    facts: Mapping[str, Any] = field(default_factory=dict)


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


# Statements built once, with bound parameters (see bot.conversation.leases on why).
_EXISTING = select(Message.id, Message.conversation_id).where(Message.provider_sid == bindparam("sid"))
_TOUCH_VALUES = {
    "last_inbound_at": bindparam("now"),
    # Replies go out from the number the debtor last wrote to.
    "our_address": func.coalesce(bindparam("to", type_=String), Conversation.our_address),
}


def touch_statement(
    values: Mapping[str, Any], facts: Callable[[Any], Mapping[str, Any]] | None = None
) -> Update:
    """The UPDATE that records a message on its conversation (last inbound time, the number it wrote to,
    and `values` on top, such as the lease claim of `bot.conversation.leases.CLAIM_VALUES`), returning the
    row, whether
    its debtor's WhatsApp id is unknown, and `facts(conversation_id)`: named scalar subqueries about the
    conversation whose id is the given expression, read in the same round trip (before the message is
    inserted). Build it once (module level)."""
    # Recording the WhatsApp id then costs no query of its own.
    wa_id_unknown = (
        select(Debtor.whatsapp_id.is_(None))
        .where(Debtor.id == Conversation.debtor_id)
        .correlate(Conversation)
        .scalar_subquery()
        .label("wa_id_unknown")
    )
    # The id as a subquery on the key, not a correlation: SQLite renders RETURNING columns unqualified,
    # and inside a subquery on messages `id` would be the message's.
    other = aliased(Conversation)
    this_id = (
        select(other.id)
        .where(other.channel == bindparam("b_channel"), other.address == bindparam("b_address"))
        .scalar_subquery()
    )
    extra = [column.label(name) for name, column in (facts(this_id) if facts else {}).items()]
    return (
        update(Conversation)
        .where(Conversation.channel == bindparam("b_channel"), Conversation.address == bindparam("b_address"))
        .values({**_TOUCH_VALUES, **values})
        .returning(Conversation, wa_id_unknown, *extra)
    )


_TOUCH = touch_statement({})


@dataclass(frozen=True)
class Touch:
    """How `store` records the message on its conversation when it claims it: a `touch_statement` with
    the lease claim's values, and its parameters (the claim's, `bot.conversation.leases.claim_params`, and
    those of
    the statement's facts)."""

    statement: Update
    params: Mapping[str, Any]


def _touch_conversation(
    session: Session, inbound: Inbound, touch: Touch | None, received_at: datetime | None = None
) -> tuple[Conversation, bool, dict[str, Any], tuple[Debtor | None] | None]:
    """The message's conversation, updated for it in one statement (`touch`, or just the last inbound
    time and the number it wrote to), created first if new (linked to its debtor, if any); whether its
    debtor's WhatsApp id is unknown; the touch statement's facts; and, if it had to be created, the
    debtor it looked up (in a tuple)."""
    channel = Channel(inbound.sender.channel)
    address = inbound.sender.e164
    now = received_at or utcnow()
    params = {"b_channel": channel, "b_address": address, "now": now, "to": inbound.to or None}
    statement = _TOUCH
    if touch is not None:
        statement, params = touch.statement, {**params, **touch.params}
    # On the session's connection, and the row attached as the ORM object (see `db.attach_row`).
    row = session.connection().execute(statement, params).mappings().first()
    looked_up = None
    if row is None:  # a new conversation, linked to its debtor from the start
        debtor = identity.find_debtor(session, inbound.sender.canonical_e164)
        looked_up = (debtor,)
        # ON CONFLICT DO NOTHING: another request may create it at the same moment (no savepoint needed).
        session.execute(
            _dialect_insert(session)(Conversation)
            .values(channel=channel, address=address, debtor_id=debtor.id if debtor else None)
            .on_conflict_do_nothing(index_elements=[Conversation.channel, Conversation.address])
        )
        row = session.connection().execute(statement, params).mappings().one()
    conversation = attach_row(session, Conversation, row)
    return conversation, bool(row["wa_id_unknown"]), dict(row) if touch is not None else {}, looked_up


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
    touch: Touch | None = None,
    received_at: datetime | None = None,
) -> Stored:
    """Save the message and its conversation (linking the debtor), idempotently on MessageSid.

    `ignored` stores the message without queuing it for the bot (e.g. "rate_limited"). `touch` claims
    the conversation's lease (`bot.conversation.leases`) in the statement that records the message on it,
    and reads
    what its facts ask for (`Stored.facts`); `Stored.conversation.lease_owner` then says who holds it.
    A duplicate (a Twilio retry, or its twin delivered at the same moment) inserts nothing and is
    reported as such: the INSERT's conflict on the unique MessageSid is the one check, so a new
    message costs no look-up first. `received_at` is when the webhook received a message saved later
    (replayed from the spool, bot.conversation.spool): its `created_at` and the conversation's last inbound
    time.
    """
    conversation, wa_id_unknown, facts, looked_up = _touch_conversation(session, inbound, touch, received_at)
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
    elif whatsapp and wa_id_unknown:
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
        conversation.id, message.id, duplicate=False, conversation=conversation, message=message, facts=facts
    )
