"""The turn an answer is for, the identity gate in front of personal data, and running an answer.

Every answer takes a session, the settings and the `Turn` (which conversation and which inbound message)
and returns the `Reply`s to send. Personal data (amounts, due dates, payment codes) is shown only when the
number is confirmed as the debtor's (`for_confirmed_debtor`, see bot.conversation.identity); otherwise the
reply reveals nothing. `respond` runs an answer in its own transaction: what a Rasa action calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import localtime, texts
from bot.config import Settings, get_settings
from bot.conversation import contacts, identity
from bot.conversation.identity import Trust
from bot.db import get_database
from bot.delivery.outgoing import Reply
from bot.localtime import DEFAULT_TZ
from bot.models import Conversation, Message, utcnow

Handler = Callable[[Session, Settings, "Turn"], list[Reply]]


@dataclass(frozen=True)
class Turn:
    """The conversation (Rasa's sender id), the inbound message being answered and its entities."""

    conversation_id: int | None
    message_id: int | None = None
    today: date | None = None
    entities: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the message as typed (a date the NLU did not tag is still read from it)

    @classmethod
    def from_ids(
        cls,
        sender_id: str | None,
        message_id: object = None,
        entities: Mapping[str, str] | None = None,
        text: str = "",
    ) -> Turn:
        """A turn from Rasa's sender id and the message id in the message metadata (both may be junk)."""
        conversation_id = int(sender_id) if sender_id and str(sender_id).isdigit() else None
        message = int(message_id) if isinstance(message_id, int | str) and str(message_id).isdigit() else None
        return cls(conversation_id, message, entities=dict(entities or {}), text=text)


def conversation_of(session: Session, turn: Turn) -> Conversation | None:
    if turn.conversation_id is None:
        return None
    return session.get(Conversation, turn.conversation_id)


def own_message(session: Session, conversation: Conversation, turn: Turn) -> int | None:
    """The turn's message id if it is a message of this conversation (metadata comes over HTTP)."""
    if turn.message_id is None:
        return None
    owner = session.scalar(select(Message.conversation_id).where(Message.id == turn.message_id))
    return turn.message_id if owner == conversation.id else None


def _gate(session: Session, settings: Settings, conversation: Conversation | None, turn: Turn) -> list[Reply]:
    """Replies to send instead of personal data, or [] when the number is confirmed as the debtor's."""
    trust = identity.trust(settings, conversation) if conversation is not None else Trust.UNKNOWN
    if trust == Trust.UNKNOWN and conversation is not None and conversation.debtor_id is not None:
        # A stale link (the number is no longer its debtor's): follow the number, and decide again.
        contacts.relink(session, conversation)
        trust = identity.trust(settings, conversation)
    if trust == Trust.CONFIRMED:
        return []
    if trust == Trust.UNCONFIRMED and conversation is not None:
        identity.ask(conversation, own_message(session, conversation, turn))
        return [Reply(texts.VERIFY_ASK)]
    if trust == Trust.LOCKED:
        return [Reply(texts.VERIFY_LOCKED)]
    return [Reply(texts.UNKNOWN_NUMBER)]


def for_confirmed_debtor(handler: Callable[[Session, Settings, Turn, Conversation], list[Reply]]) -> Handler:
    """Run `handler` only for a number confirmed as the debtor's (it shows personal data); otherwise
    answer with what bot.conversation.identity allows (ask the CPF digits, or reveal nothing)."""

    @functools.wraps(handler)
    def gated(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
        conversation = conversation_of(session, turn)
        gate = _gate(session, settings, conversation, turn)
        if gate:
            return gate
        assert conversation is not None
        return handler(session, settings, turn, conversation)

    return gated


def debtor_today(turn: Turn, conversation: Conversation) -> date:
    """Today in the debtor's time zone (a debtor in Acre is two hours behind Brasília at midnight)."""
    if turn.today is not None:
        return turn.today
    zone = conversation.debtor.timezone if conversation.debtor is not None else DEFAULT_TZ
    return localtime.local_date(utcnow(), zone)


def respond(
    handler: Handler,
    sender_id: str | None,
    metadata: Mapping[str, Any] | None,
    *,
    entities: Mapping[str, str] | None = None,
    text: str = "",
    settings: Settings | None = None,
) -> list[Reply]:
    """Run `handler` for Rasa's sender id and message metadata in its own transaction (what an action
    calls). The database is the process-wide one for the settings."""
    settings = settings or get_settings()
    turn = Turn.from_ids(sender_id, (metadata or {}).get("message_id"), entities, text)
    with get_database(settings.effective_database_url).session() as session:
        return handler(session, settings, turn)
