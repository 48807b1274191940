"""A data subject's records: the debtor row found by CPF (also after erasure), the numbers and the
conversations and opt-out events that are theirs, and the keyed hashes that replace identifiers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from bot.models import Conversation, Debtor, OptOutEvent

# What an erased debtor's name becomes (operators see it in lists and cases).
ERASED_NAME = "Titular anonimizado"


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` as 64 hex digits. A plain hash of a CPF or a phone number could be reversed
    by trying every CPF or number (a small space); without the server's key it cannot."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def random_cpf_token() -> str:
    """A placeholder for an erased CPF: unique, 11 characters like a CPF, never a valid one (a letter)."""
    return "X" + secrets.token_hex(5)


def random_address_token() -> str:
    """A placeholder for an anonymised conversation number (never an E.164 number: no leading +)."""
    return "anon-" + secrets.token_hex(5)


def find_subject(session: Session, key: bytes, cpf: str) -> Debtor | None:
    """The debtor with this (normalised) CPF, or the one erased under it; None when there is neither."""
    return session.scalar(
        select(Debtor).where(or_(Debtor.cpf == cpf, Debtor.erased_key == keyed_hash(key, cpf)))
    )


def addresses_of(debtor: Debtor) -> set[str]:
    """The debtor's phone numbers in E.164 (the WhatsApp id, which may lack the 9th digit, included)."""
    found = {debtor.phone, debtor.phone_secondary, f"+{debtor.whatsapp_id}" if debtor.whatsapp_id else None}
    return {a for a in found if a}


def _theirs(debtor_column: ColumnElement[int | None], address_column: ColumnElement[str], debtor: Debtor):  # type: ignore[no-untyped-def]
    """Rows linked to the debtor, or to one of their numbers and to no debtor (never another person's)."""
    addresses = sorted(addresses_of(debtor))
    unlinked = and_(debtor_column.is_(None), address_column.in_(addresses)) if addresses else None
    return or_(debtor_column == debtor.id, unlinked) if unlinked is not None else debtor_column == debtor.id


def conversations_of(session: Session, debtor: Debtor) -> list[Conversation]:
    """The debtor's conversations (also those of their numbers not linked to them yet), oldest first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(_theirs(Conversation.debtor_id, Conversation.address, debtor))
            .order_by(Conversation.id)
        )
    )


def opt_outs_of(session: Session, debtor: Debtor) -> list[OptOutEvent]:
    """The debtor's opt-out/opt-in history (also that of their numbers before they were linked)."""
    return list(
        session.scalars(
            select(OptOutEvent)
            .where(_theirs(OptOutEvent.debtor_id, OptOutEvent.address, debtor))
            .order_by(OptOutEvent.id)
        )
    )
