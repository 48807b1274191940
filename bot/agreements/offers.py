"""Renegotiation offers in the chat: what may be renegotiated, the offer, and reading the debtor's choice.

The flow (see docs/payments.md):
1. `renegociar` -> `make_offer`: the options (`bot.agreements.pricing`) for the creditor with the largest
   updated debt, saved on the conversation for `OFFER_TTL`.
2. The debtor picks one, by number ("2", "a segunda"), by instalment count ("6x", "em seis vezes", the
   NLU's `parcelas` entity) or "à vista" (`pick`) -> `choose`; the bot asks for confirmation with the
   exact `terms`.
3. "sim" (`yes_or_no`, or the `afirmar` intent) -> `bot.agreements.lifecycle.accept`; "não" -> `decline`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot import texts
from bot.agreements.pricing import Option, compute_options, policy_for
from bot.models import (
    AgreementOffer,
    Conversation,
    Creditor,
    Invoice,
    InvoiceStatus,
    OfferStatus,
    as_utc,
    utcnow,
)
from bot.payments.amounts import updated_amount
from bot.text_folding import fold_accents

OFFER_TTL = timedelta(hours=48)


def open_debt(session: Session, debtor_id: int, today: date) -> dict[int, list[Invoice]]:
    """The debtor's open invoices that may be renegotiated (not held by a dispute or a payment under
    review), per creditor."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.creditor_id, Invoice.due_date, Invoice.id)
    ).all()
    grouped: dict[int, list[Invoice]] = {}
    for invoice in invoices:
        if invoice.on_hold:
            continue
        grouped.setdefault(invoice.creditor_id, []).append(invoice)
    return grouped


def updated_total(invoices: Iterable[Invoice], creditor: Creditor, today: date) -> int:
    """The sum of the invoices' updated amounts (fine and interest per the creditor's rules)."""
    return sum(
        updated_amount(
            i.amount_cents,
            i.due_date,
            today,
            fine_bps=creditor.fine_bps,
            monthly_interest_bps=creditor.monthly_interest_bps,
        ).total_cents
        for i in invoices
    )


@dataclass(frozen=True)
class LargestDebt:
    """The creditor a debtor owes most to (today's updated amounts), its open invoices and their total."""

    creditor: Creditor
    invoices: list[Invoice]
    total_cents: int


def largest_debt(session: Session, debtor_id: int, today: date) -> LargestDebt | None:
    """What a renegotiation or a promise is about: the debtor's largest open debt by creditor. None when
    nothing is open."""
    grouped = open_debt(session, debtor_id, today)
    if not grouped:
        return None
    totals = {
        creditor_id: updated_total(invoices, session.get_one(Creditor, creditor_id), today)
        for creditor_id, invoices in grouped.items()
    }
    creditor_id = max(totals, key=lambda c: totals[c])
    return LargestDebt(session.get_one(Creditor, creditor_id), grouped[creditor_id], totals[creditor_id])


# Built once, with a bound parameter: it runs for every message (see bot.conversation.leases on why).
_CURRENT_OFFER = (
    select(AgreementOffer)
    .where(
        AgreementOffer.conversation_id == bindparam("conversation_id"),
        AgreementOffer.status.in_([OfferStatus.OPEN, OfferStatus.CHOSEN]),
    )
    .order_by(AgreementOffer.id.desc())
    .limit(1)
)


def current_offer(session: Session, conversation_id: int) -> AgreementOffer | None:
    """The conversation's open or chosen offer that has not expired."""
    offer = session.scalar(_CURRENT_OFFER, {"conversation_id": conversation_id})
    if offer is None:
        return None
    if as_utc(offer.expires_at) < utcnow():  # type: ignore[operator]
        offer.status = OfferStatus.EXPIRED
        return None
    return offer


def make_offer(
    session: Session, conversation: Conversation, today: date, requested: int | None = None
) -> tuple[AgreementOffer, Creditor] | None:
    """Compute and save an offer for the conversation's debtor (the creditor with the largest debt).
    None when there is nothing to renegotiate."""
    assert conversation.debtor_id is not None
    debt = largest_debt(session, conversation.debtor_id, today)
    if debt is None:
        return None
    creditor, creditor_id = debt.creditor, debt.creditor.id
    options = compute_options(debt.total_cents, policy_for(session, creditor_id), today, requested)
    for stale in session.scalars(
        select(AgreementOffer).where(
            AgreementOffer.conversation_id == conversation.id,
            AgreementOffer.status.in_([OfferStatus.OPEN, OfferStatus.CHOSEN]),
        )
    ):
        stale.status = OfferStatus.EXPIRED
    offer = AgreementOffer(
        conversation_id=conversation.id,
        creditor_id=creditor_id,
        debtor_id=conversation.debtor_id,
        status=OfferStatus.OPEN,
        options=[asdict(o) for o in options],
        invoice_ids=[i.id for i in debt.invoices],
        expires_at=utcnow() + OFFER_TTL,
    )
    session.add(offer)
    session.flush()
    return offer, creditor


def options_of(offer: AgreementOffer) -> list[Option]:
    """The offer's options as `Option`s."""
    return [Option(**o) for o in offer.options]


# ---- reading the debtor's choice ---------------------------------------------------------------------

_NUMBER_WORDS = {
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6, "sete": 7,
    "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "dezoito": 18, "vinte e quatro": 24,
}  # fmt: skip


_ORDINALS = {"primeira": 1, "primeiro": 1, "segunda": 2, "segundo": 2, "terceira": 3, "terceiro": 3}


_YES = {
    "sim", "s", "confirmo", "confirma", "confirmado", "pode", "pode ser", "ok", "fechado", "fechar",
    "aceito", "isso", "quero", "beleza", "blz", "combinado", "sim confirmo", "sim pode", "bora",
}  # fmt: skip


_NO = {"nao", "n", "nao quero", "cancela", "cancelar", "desisto", "agora nao", "nao obrigado"}


_COUNT = re.compile(r"\b(\d{1,2})\s*(?:x|vezes|parcelas?|prestac(?:ao|oes))\b")


_WORD_COUNT = re.compile(
    r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+(?:vezes|parcelas?|prestac)"
)


def _plain(text: str) -> str:
    letters = fold_accents(text.lower())
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", letters).split())


def pick(text: str, options: list[Option], parcelas: str | None = None) -> Option | None:
    """The option the debtor's message picks, or None. `parcelas` is the NLU entity value, if any."""
    plain = _plain(text)
    by_count = {o.instalments: o for o in options}
    by_number = {o.number: o for o in options}
    if re.fullmatch(r"(?:opcao |a |numero |n )?([1-9])", plain):
        return by_number.get(int(plain[-1]))
    if "a vista" in plain or "avista" in plain:
        return by_count.get(1)
    for word, number in _ORDINALS.items():
        if re.search(rf"\b(?:a |o |opcao )?{word}\b", plain) and len(plain.split()) <= 4:
            return by_number.get(number)
    counts = [int(m) for m in _COUNT.findall(plain)] + [_NUMBER_WORDS[m] for m in _WORD_COUNT.findall(plain)]
    if parcelas:
        digits = re.findall(r"\d+", parcelas)
        counts += [int(digits[0])] if digits else []
    for count in counts:
        if count in by_count:
            return by_count[count]
    return None


def yes_or_no(text: str) -> bool | None:
    """True for a confirmation ("sim", "pode", "ok"), False for a refusal ("não"), None otherwise."""
    plain = _plain(text)
    if plain in _YES or plain.startswith(("sim ", "confirmo ")):
        return True
    if plain in _NO or plain.startswith("nao "):
        return False
    return None


def choose(offer: AgreementOffer, option: Option) -> None:
    """Record the debtor's pick; the next step is the confirmation."""
    offer.chosen = option.number
    offer.status = OfferStatus.CHOSEN


def chosen_option(offer: AgreementOffer) -> Option:
    """The option the debtor picked."""
    return next(o for o in options_of(offer) if o.number == offer.chosen)


def terms(option: Option, creditor: Creditor) -> str:
    """The exact terms the debtor confirms (stored with the agreement)."""
    return texts.agreement_terms(
        option.describe(), option.instalments, option.first_due_date, creditor.display_name
    )


def decline(offer: AgreementOffer) -> None:
    """The debtor said no."""
    offer.status = OfferStatus.DECLINED
