"""When a debtor's numbers change: re-resolving the conversations and the trust that hung on them.

A conversation is linked to a debtor when its first message arrives. When a number then changes hands
(the creditor re-imports the debtor with a new phone, or gives the old number to someone else), the link
and the debtor's verification must follow, or the new owner of the old number would be told the old
owner's debt. `reresolve` is the one place that does it: the debtor import calls it, and so must any
other way of changing a debtor's phones (a CLI command, the agent console).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.conversation import identity
from bot.models import AgreementOffer, Channel, Conversation, Debtor, OfferStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

# Values per `IN (...)`: SQLite builds may cap bound parameters at 999.
_CHUNK = 900


def reresolve(session: Session, debtor_ids: Iterable[int] = (), numbers: Iterable[str] = ()) -> int:
    """Make conversations and trust follow changed numbers, in the caller's transaction; returns how many
    conversations were linked to another debtor (or to none).

    `debtor_ids`: debtors whose phone or secondary phone changed. Their WhatsApp id is cleared unless it
    is still their main number's, their confirmed number is forgotten if it is no longer theirs, and
    their conversations and those on their current numbers are linked again by number.
    `numbers`: numbers just given to debtors (new debtors): conversations on them are linked again too
    (e.g. a number now shared by two debtors identifies neither).
    """
    wanted = set(numbers)
    ids = sorted(set(debtor_ids))
    for batch in _chunks(ids):
        for debtor in session.scalars(select(Debtor).where(Debtor.id.in_(batch))):
            if (
                debtor.whatsapp_id
                and identity.role_of(debtor, f"+{debtor.whatsapp_id}") != identity.Role.PRIMARY
            ):
                debtor.whatsapp_id = None  # reminders must not go on to the old number
            if debtor.verified_phone and identity.role_of(debtor, debtor.verified_phone) is None:
                identity.forget_verification(debtor)
            wanted.update(p for p in (debtor.phone, debtor.phone_secondary) if p)
    session.flush()  # find_debtor must see the numbers as they are now

    conversations: dict[int, Conversation] = {}
    for batch in _chunks(ids):
        found = session.scalars(select(Conversation).where(Conversation.debtor_id.in_(batch)))
        conversations.update((c.id, c) for c in found)
    for batch in _chunks(sorted({v for number in wanted for v in _variants(number)})):
        # The channel condition lets the (channel, address) unique index serve the look-up.
        found = session.scalars(
            select(Conversation).where(
                Conversation.channel.in_(list(Channel)), Conversation.address.in_(batch)
            )
        )
        conversations.update((c.id, c) for c in found)
    relinked = sum(relink(session, c) for c in conversations.values())
    if relinked:
        log.info("%d conversation(s) linked again after numbers changed", relinked)
    return relinked


def relink(session: Session, conversation: Conversation) -> bool:
    """Link the conversation to the debtor its number identifies now (or to none); True if that changed.

    A change drops what belonged to the old link: the pending CPF question, the message held for it,
    and any agreement offer still waiting for an answer (its terms are the old debtor's)."""
    found = identity.find_debtor(session, conversation.address)
    if (found.id if found is not None else None) == conversation.debtor_id:
        return False
    conversation.debtor = found
    conversation.verification_asked_at = None
    conversation.held_message_id = None
    session.execute(
        update(AgreementOffer)
        .where(
            AgreementOffer.conversation_id == conversation.id,
            AgreementOffer.status.in_([OfferStatus.OPEN, OfferStatus.CHOSEN]),
        )
        .values(status=OfferStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return True


def _variants(number: str) -> list[str]:
    """A stored (canonical) number and, for a Brazilian mobile, its form without the 9th digit (an old
    WhatsApp id may have written from it): a superset of `br_mobile_variants`, by string operations.
    Parsing 100,000 numbers of a first import with phonenumbers would cost seconds, and this only
    narrows the candidates: `relink` decides each one with `find_debtor`."""
    if number.startswith("+55") and len(number) == 14 and number[5] == "9":
        return [number, number[:5] + number[6:]]
    return [number]


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
