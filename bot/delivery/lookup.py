"""Settling a send whose outcome is unknown by asking the provider, never by sending blindly.

A message left `sending` without a SID (its sender died mid-send, its send was ambiguous, or a reply
handed over as TwiML whose status callbacks never came) may or may not be at the provider. The sweep
(bot.conversation.jobs) and the reminder dispatcher that reclaims its rows ask the provider
(`Sender.lookup`) and record what it has, or put the message back to `pending` if it has nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.channels import Sender, SendResult
from bot.delivery.outgoing import request
from bot.models import Message, MessageStatus, as_utc, utcnow

# The provider's copy is looked for from this long before the row was last touched (clocks differ).
LOOKBACK = timedelta(minutes=5)


def can_look_up(sender: Sender) -> bool:
    """True when the sender can say whether the provider already has a message (`Sender.lookup`)."""
    return callable(getattr(sender, "lookup", None))


class RecordedSids:
    """The provider SIDs recorded on any message, as a container the provider's look-up checks a
    candidate against: one indexed query per candidate whose content matches (usually one)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __contains__(self, sid: object) -> bool:
        found = self.session.scalar(select(Message.id).where(Message.provider_sid == sid).limit(1))
        return found is not None


def look_up(sender: Sender, message: Message) -> SendResult | None:
    """What the provider has for `message`, left `sending` without a SID: its SID and status, or None if
    it has no such message. Raises `RetryableSendError` when the provider cannot tell now.

    A SID already recorded on any message never matches: two messages with the same body to the same
    number (a question asked twice, a reminder and a reply) must never get the same provider copy
    (recording one SID twice violates the unique index, and the second message would never be sent)."""
    found_request = request(
        message.conversation, message.body, None, None, message.content_sid, message.content_variables
    )
    since = as_utc(message.updated_at) - LOOKBACK  # type: ignore[operator]
    session = object_session(message)
    recorded = RecordedSids(session) if session is not None else frozenset()
    return sender.lookup(found_request, since=since, exclude=recorded)  # type: ignore[attr-defined]


def record_found(message: Message, found: SendResult) -> None:
    """Record on `message` what `look_up` found at the provider."""
    message.provider_sid, message.status = found.sid, found.status
    message.sent_at = message.sent_at or utcnow()
    message.next_attempt_at = None


def settle(sender: Sender, message: Message) -> bool | None:
    """Settle `message` (in its session's transaction) if it is still `sending` without a SID: True when
    the provider had it (its SID recorded), False when it never got it (back to `pending`, to be sent
    again), None when there was nothing to settle (a callback or another process settled it). A sender
    that cannot be asked counts as not having it. Raises `RetryableSendError` when the provider cannot
    tell now (the message stays as it is)."""
    if message.status != MessageStatus.SENDING or message.provider_sid:
        return None
    found = look_up(sender, message) if can_look_up(sender) else None
    if found is not None:
        record_found(message, found)
        return True
    message.status, message.next_attempt_at = MessageStatus.PENDING, None
    return False
