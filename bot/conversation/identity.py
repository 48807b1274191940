"""Who is writing: finding the debtor behind a number, and confirming the number is really theirs.

A conversation is linked to the debtor registered with its number, but the link alone is never trusted:
* a number that is no longer one of its debtor's (re-imported with a new phone) is treated as unknown;
* `IDENTITY_CHECK=cpf` (default): before amounts and payment codes the debtor answers the first 3
  digits of the CPF. A correct answer is the debtor's, for the number it came from (any channel), and
  expires after `IDENTITY_VERIFICATION_DAYS`. This protects recycled numbers: a new owner of an old
  number does not learn someone else's debt.
* `IDENTITY_CHECK=phone`: writing from the debtor's main number is enough.
* The secondary number (often a relative's) must answer the CPF question whatever the mode.
Wrong answers are counted per debtor across numbers and channels: `IDENTITY_MAX_FAILURES` of them lock
the check; the count restarts, and the lock ends, `IDENTITY_LOCK_HOURS` after the last wrong answer (an
agent can unlock it sooner, bot.conversation.handoff.release).
"""

from __future__ import annotations

import enum
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import Conversation, Debtor, as_utc, utcnow
from bot.phones import InvalidPhone, br_mobile_variants, normalize_phone

log = logging.getLogger(__name__)

# "123", "cpf 123", or a whole CPF ("123.456.789-09"): only the first 3 digits are checked.
_ANSWER = re.compile(
    r"^\s*(?:(?:meu\s+)?cpf\s*(?:e|é)?\s*:?\s*)?(\d{3})(?:[.\s]?\d{3}[.\s]?\d{3}[-\s]?\d{2})?\s*[.!]?\s*$",
    re.IGNORECASE,
)


class Trust(enum.Enum):
    """How far a conversation may be told personal data."""

    UNKNOWN = "unknown"  # no debtor behind the number (or no longer): reveal nothing
    UNCONFIRMED = "unconfirmed"  # a debtor, but the number is not confirmed yet: ask first
    LOCKED = "locked"  # too many wrong answers: reveal nothing
    CONFIRMED = "confirmed"


class Answer(enum.Enum):
    """The outcome of checking a reply to the verification question."""

    NOT_AN_ANSWER = "not_an_answer"
    CORRECT = "correct"
    WRONG = "wrong"
    LOCKED = "locked"


class Role(enum.Enum):
    """Which of the debtor's numbers a conversation's number is."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


def canonical(e164: str | None) -> str | None:
    """The canonical form of a number (9th digit added), or None if it is not a valid number."""
    if not e164:
        return None
    try:
        return normalize_phone(e164)
    except InvalidPhone:
        return None


def role_of(debtor: Debtor, address: str) -> Role | None:
    """Whether `address` is the debtor's main or secondary number; None when it is neither (any more).

    The WhatsApp id does not count: it is only a copy of the main number, and may be stale."""
    number = canonical(address)
    if number is None:
        return None
    if number == canonical(debtor.phone):
        return Role.PRIMARY
    if number == canonical(debtor.phone_secondary):
        return Role.SECONDARY
    return None


def find_debtor(session: Session, e164: str) -> Debtor | None:
    """The debtor registered with this number (either 9th-digit form), as main or secondary number.

    A number shared by several debtors identifies none of them: the conversation stays anonymous
    rather than risk telling one person another's debt. A WhatsApp id is not looked up: it was copied
    from a number, and that number may have been given to someone else since.
    """
    try:
        variants = br_mobile_variants(e164)
    except InvalidPhone:
        return None
    conditions = [Debtor.phone.in_(variants), Debtor.phone_secondary.in_(variants)]
    found = session.scalars(select(Debtor).where(or_(*conditions)).limit(2)).all()
    if len(found) > 1:
        log.warning("number matches several debtors; treating it as unknown")
        return None
    return found[0] if found else None


def _locked(settings: Settings, debtor: Debtor, now: datetime) -> bool:
    failed_at = as_utc(debtor.verification_failed_at)
    return (
        debtor.verification_failures >= settings.identity_max_failures
        and failed_at is not None
        and failed_at > now - timedelta(hours=settings.identity_lock_hours)
    )


def _verified(settings: Settings, debtor: Debtor, address: str, now: datetime) -> bool:
    verified_at = as_utc(debtor.verified_at)
    return (
        verified_at is not None
        and verified_at > now - timedelta(days=settings.identity_verification_days)
        and debtor.verified_phone is not None
        and debtor.verified_phone == canonical(address)
    )


def trust(settings: Settings, conversation: Conversation, now: datetime | None = None) -> Trust:
    """How much the conversation may be told, decided from its debtor's current numbers (never from the
    link alone)."""
    debtor = conversation.debtor
    if debtor is None:
        return Trust.UNKNOWN
    role = role_of(debtor, conversation.address)
    if role is None:  # a stale link: the number is no longer the debtor's
        return Trust.UNKNOWN
    if settings.identity_check == "phone" and role == Role.PRIMARY:
        return Trust.CONFIRMED
    now = now or utcnow()
    if _locked(settings, debtor, now):
        return Trust.LOCKED
    return Trust.CONFIRMED if _verified(settings, debtor, conversation.address, now) else Trust.UNCONFIRMED


def ask(conversation: Conversation, held_message_id: int | None) -> None:
    """Record that the verification question was asked, and which message waits for the answer."""
    conversation.verification_asked_at = utcnow()
    conversation.held_message_id = held_message_id


def awaiting_answer(settings: Settings, conversation: Conversation) -> bool:
    """True when the next message should be read as the answer to the verification question."""
    # The conversation's own column first: a conversation never asked costs no look at its debtor.
    return (
        conversation.verification_asked_at is not None and trust(settings, conversation) == Trust.UNCONFIRMED
    )


def check_answer(settings: Settings, conversation: Conversation, body: str) -> Answer:
    """Check a reply to the verification question (the first 3 CPF digits, or the whole CPF), counting a
    wrong one against the debtor (whatever the number or channel it came from)."""
    match = _ANSWER.match(body or "")
    if match is None:
        return Answer.NOT_AN_ANSWER
    debtor = conversation.debtor
    assert debtor is not None, "only asked when a debtor is known"
    now = utcnow()
    if _locked(settings, debtor, now):
        return Answer.LOCKED
    if match.group(1) == debtor.cpf[:3]:
        debtor.verified_at = now
        debtor.verified_phone = canonical(conversation.address)
        unlock(debtor)
        conversation.verification_asked_at = None
        return Answer.CORRECT
    last = as_utc(debtor.verification_failed_at)
    if last is None or last <= now - timedelta(hours=settings.identity_lock_hours):
        debtor.verification_failures = 0  # the earlier wrong answers are too old to count
    debtor.verification_failures += 1
    debtor.verification_failed_at = now
    if debtor.verification_failures >= settings.identity_max_failures:
        log.warning("debtor %s: identity check locked after wrong answers", debtor.id)
        return Answer.LOCKED
    return Answer.WRONG


def unlock(debtor: Debtor) -> None:
    """Forget the debtor's wrong answers (a correct answer, or an agent's decision)."""
    debtor.verification_failures = 0
    debtor.verification_failed_at = None


def forget_verification(debtor: Debtor) -> None:
    """Drop the debtor's confirmed number: the next request for personal data asks again."""
    debtor.verified_at = None
    debtor.verified_phone = None
