"""Who is writing: finding the debtor behind a number, and confirming the number is really theirs.

A known debtor is told amounts and payment codes only once the number is confirmed:
* `IDENTITY_CHECK=phone` (default): writing from the number the debtor was registered with (or its
  9th-digit variant, or the WhatsApp id seen before) confirms it.
* `IDENTITY_CHECK=cpf`: the debtor must also answer, once per conversation, the first 3 digits of the
  CPF. This protects recycled numbers: a new owner of an old number does not learn someone else's debt.
  Three wrong answers lock the conversation until an agent unlocks it.
"""

from __future__ import annotations

import enum
import logging
import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import Conversation, Debtor, utcnow
from bot.phones import InvalidPhone, br_mobile_variants

log = logging.getLogger(__name__)

MAX_FAILURES = 3
# "123", "cpf 123", or a whole CPF ("123.456.789-09"): only the first 3 digits are checked.
_ANSWER = re.compile(
    r"^\s*(?:(?:meu\s+)?cpf\s*(?:e|é)?\s*:?\s*)?(\d{3})(?:[.\s]?\d{3}[.\s]?\d{3}[-\s]?\d{2})?\s*[.!]?\s*$",
    re.IGNORECASE,
)


class Trust(enum.Enum):
    """How far a conversation may be told personal data."""

    UNKNOWN = "unknown"  # no debtor behind the number: reveal nothing
    UNCONFIRMED = "unconfirmed"  # a debtor, but the number is not confirmed yet: ask first
    LOCKED = "locked"  # too many wrong answers: reveal nothing
    CONFIRMED = "confirmed"


class Answer(enum.Enum):
    """The outcome of checking a reply to the verification question."""

    NOT_AN_ANSWER = "not_an_answer"
    CORRECT = "correct"
    WRONG = "wrong"
    LOCKED = "locked"


def find_debtor(session: Session, e164: str, wa_id: str | None = None) -> Debtor | None:
    """The debtor registered with this number (either 9th-digit form) or WhatsApp id.

    A number shared by several debtors identifies none of them: the conversation stays anonymous
    rather than risk telling one person another's debt.
    """
    try:
        variants = br_mobile_variants(e164)
    except InvalidPhone:
        return None
    conditions = [Debtor.phone.in_(variants), Debtor.phone_secondary.in_(variants)]
    if wa_id:
        conditions.append(Debtor.whatsapp_id == wa_id)
    found = session.scalars(select(Debtor).where(or_(*conditions)).limit(2)).all()
    if len(found) > 1:
        log.warning("number matches several debtors; treating it as unknown")
        return None
    return found[0] if found else None


def trust(settings: Settings, conversation: Conversation) -> Trust:
    """How much the conversation may be told."""
    if conversation.debtor_id is None:
        return Trust.UNKNOWN
    if settings.identity_check == "phone":
        return Trust.CONFIRMED
    if conversation.verification_failures >= MAX_FAILURES:
        return Trust.LOCKED
    return Trust.CONFIRMED if conversation.verified_at is not None else Trust.UNCONFIRMED


def ask(conversation: Conversation, held_message_id: int | None) -> None:
    """Record that the verification question was asked, and which message waits for the answer."""
    conversation.verification_asked_at = utcnow()
    conversation.held_message_id = held_message_id


def awaiting_answer(settings: Settings, conversation: Conversation) -> bool:
    """True when the next message should be read as the answer to the verification question."""
    return (
        trust(settings, conversation) == Trust.UNCONFIRMED and conversation.verification_asked_at is not None
    )


def check_answer(conversation: Conversation, body: str) -> Answer:
    """Check a reply to the verification question (the first 3 CPF digits, or the whole CPF)."""
    match = _ANSWER.match(body or "")
    if match is None:
        return Answer.NOT_AN_ANSWER
    debtor = conversation.debtor
    assert debtor is not None, "only asked when a debtor is known"
    if match.group(1) == debtor.cpf[:3]:
        conversation.verified_at = utcnow()
        conversation.verification_failures = 0
        conversation.verification_asked_at = None
        return Answer.CORRECT
    conversation.verification_failures += 1
    if conversation.verification_failures >= MAX_FAILURES:
        return Answer.LOCKED
    return Answer.WRONG
