"""Renegotiation in the chat: options within the creditor's policy, the debtor's choice, the agreement.

The flow (see docs/payments.md):
1. `renegociar` → `make_offer`: two or three concrete options computed from the debtor's updated debt
   and the creditor's `AgreementPolicy` (à vista with the cash discount, and instalment plans, the count
   the debtor asked for when the policy allows it). Nothing outside the policy is ever offered.
2. The debtor picks one, by number ("2", "a segunda"), by instalment count ("6x", "em seis vezes", the
   NLU's `parcelas` entity) or "à vista" → `choose`, which asks for confirmation with the exact terms.
3. "sim" (or the `afirmar` intent) → `accept`: an `Agreement` with its instalment schedule; the original
   invoices become `in_agreement`; the first instalment gets its payment instruments at once.
   "não" (or `negar`) → the offer is declined.
4. An agreement with an instalment overdue for more than `break_after_days` is broken
   (`break_overdue`): the remaining instalments are cancelled and the invoices return to collection.

Instalment plans with interest use the Price table (equal payments). Money is int centavos throughout;
rounding is half up to the centavo, and the last instalment absorbs the rounding so the schedule adds up
to the total exactly.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot import audit, texts
from bot.localtime import local_date
from bot.models import (
    Agreement,
    AgreementOffer,
    AgreementPolicy,
    AgreementStatus,
    Conversation,
    Creditor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OfferStatus,
    as_utc,
    utcnow,
)
from bot.payments.amounts import updated_amount
from bot.text_folding import fold_accents

OFFER_TTL = timedelta(hours=48)
MAX_OPTIONS = 3
_CANDIDATE_COUNTS = (2, 3, 4, 5, 6, 8, 10, 12, 18, 24, 36, 48, 60)
_BASIS_POINTS = 10_000

DEFAULT_POLICY = {
    "max_instalments": 6,
    "min_instalment_cents": 5000,
    "monthly_interest_bps": 0,
    "cash_discount_bps": 0,
    "min_down_payment_bps": 0,
    "first_due_days": 3,
    "break_after_days": 15,
    "max_promise_days": 10,
}


@dataclass(frozen=True)
class Option:
    """One concrete way to pay the debt."""

    number: int
    instalments: int
    first_cents: int  # the first instalment (the down payment when the policy asks for one)
    instalment_cents: int  # each of the others
    total_cents: int
    discount_cents: int
    interest_cents: int
    first_due: str  # ISO date

    @property
    def first_due_date(self) -> date:
        """The first due date as a date."""
        return date.fromisoformat(self.first_due)

    def describe(self) -> str:
        """pt-BR: "À vista: R$ 900,00 (desconto de R$ 100,00)" / "6x de R$ 150,00 (total R$ 900,00)"."""
        return texts.option_description(
            self.instalments, self.total_cents, self.discount_cents, self.first_cents, self.instalment_cents
        )


def policy_for(session: Session, creditor_id: int) -> AgreementPolicy:
    """The creditor's policy, or the conservative default (no discount, no interest, up to 6x)."""
    found = session.scalar(select(AgreementPolicy).where(AgreementPolicy.creditor_id == creditor_id))
    return found if found is not None else AgreementPolicy(creditor_id=creditor_id, **DEFAULT_POLICY)


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the end of shorter months (31/01 + 1 → 28/02)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _price_payment(principal: int, monthly_bps: int, count: int, *, first_now: bool) -> int:
    """Equal payment for `principal` over `count` months at `monthly_bps` (Price table), in centavos.

    `first_now`: the first payment is due at once (annuity due); otherwise one month later.
    """
    if monthly_bps == 0:
        return _cents(Decimal(principal) / count)
    rate = Decimal(monthly_bps) / _BASIS_POINTS
    factor = (1 - (1 + rate) ** -count) / rate
    if first_now:
        factor *= 1 + rate
    return _cents(Decimal(principal) / factor)


def plan(debt_cents: int, count: int, policy: AgreementPolicy, today: date, number: int = 0) -> Option | None:
    """The option paying `debt_cents` in `count` instalments under `policy`; None if the policy does not
    allow it (too many instalments, an instalment under the minimum)."""
    first_due = today + timedelta(days=policy.first_due_days)
    if count == 1:
        discount = _cents(Decimal(debt_cents) * policy.cash_discount_bps / _BASIS_POINTS)
        total = debt_cents - discount
        return Option(number, 1, total, total, total, discount, 0, first_due.isoformat())
    if count > policy.max_instalments:
        return None
    down = _cents(Decimal(debt_cents) * policy.min_down_payment_bps / _BASIS_POINTS)
    if down:
        payment = _price_payment(debt_cents - down, policy.monthly_interest_bps, count - 1, first_now=False)
        first, others = down, payment
        total = down + payment * (count - 1)
    else:
        payment = _price_payment(debt_cents, policy.monthly_interest_bps, count, first_now=True)
        first = others = payment
        total = payment * count
    if policy.monthly_interest_bps == 0:
        total = debt_cents  # without interest the schedule is exactly the debt (the last one rounds)
    if min(first, others) < policy.min_instalment_cents:
        return None
    return Option(number, count, first, others, total, 0, total - debt_cents, first_due.isoformat())


def compute_options(
    debt_cents: int, policy: AgreementPolicy, today: date, requested: int | None = None
) -> list[Option]:
    """Two or three options within the policy: à vista, the instalment count the debtor asked for (when
    allowed), a middle plan and the longest plan allowed."""
    counts: list[int] = []
    feasible = [n for n in {*_CANDIDATE_COUNTS, policy.max_instalments} if plan(debt_cents, n, policy, today)]
    feasible.sort()
    if requested and requested > 1:
        # The count asked for, or the nearest the policy allows ("em 10x" under a 6x maximum -> 6x).
        nearest = nearest_count(debt_cents, requested, policy, today)
        if nearest is not None:
            counts.append(nearest)
    if feasible:
        longest = feasible[-1]
        middle = min(feasible, key=lambda n: (abs(n - longest / 2), n))
        for n in (longest, middle):  # the longest plan is always among the choices
            if n not in counts and len(counts) < MAX_OPTIONS - 1:
                counts.append(n)
    options = [plan(debt_cents, 1, policy, today, 1)]
    for number, count in enumerate(sorted(counts), start=2):
        options.append(plan(debt_cents, count, policy, today, number))
    return [o for o in options if o is not None]


def nearest_count(debt_cents: int, requested: int, policy: AgreementPolicy, today: date) -> int | None:
    """The instalment count the policy allows that is closest to `requested` (the fewer instalments on a
    tie, since each is then larger but still within the minimum); None when no plan is allowed."""
    allowed = [n for n in range(2, policy.max_instalments + 1) if plan(debt_cents, n, policy, today)]
    if not allowed:
        return None
    return min(allowed, key=lambda n: (abs(n - requested), n))


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
    grouped = open_debt(session, conversation.debtor_id, today)
    if not grouped:
        return None
    totals = {
        creditor_id: updated_total(invoices, session.get_one(Creditor, creditor_id), today)
        for creditor_id, invoices in grouped.items()
    }
    creditor_id = max(totals, key=lambda c: totals[c])
    creditor = session.get_one(Creditor, creditor_id)
    options = compute_options(totals[creditor_id], policy_for(session, creditor_id), today, requested)
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
        invoice_ids=[i.id for i in grouped[creditor_id]],
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


def accept(session: Session, offer: AgreementOffer, *, actor: str) -> Agreement:
    """Close the agreement: schedule, invoices `in_agreement`, offer accepted."""
    option = chosen_option(offer)
    creditor = session.get_one(Creditor, offer.creditor_id)
    invoices = list(session.scalars(select(Invoice).where(Invoice.id.in_(offer.invoice_ids))))
    debt = option.total_cents + option.discount_cents - option.interest_cents
    agreement = Agreement(
        creditor_id=offer.creditor_id,
        debtor_id=offer.debtor_id,
        status=AgreementStatus.ACTIVE,
        debt_cents=debt,
        discount_cents=option.discount_cents,
        interest_cents=option.interest_cents,
        total_cents=option.total_cents,
        terms=terms(option, creditor),
        invoices=invoices,
    )
    first_due = option.first_due_date
    amounts = [option.first_cents] + [option.instalment_cents] * (option.instalments - 1)
    amounts[-1] += option.total_cents - sum(amounts)  # rounding goes to the last instalment
    for number, amount in enumerate(amounts, start=1):
        agreement.instalments.append(
            Instalment(number=number, amount_cents=amount, due_date=add_months(first_due, number - 1))
        )
    for invoice in invoices:
        invoice.status = InvoiceStatus.IN_AGREEMENT
    session.add(agreement)
    session.flush()
    offer.status = OfferStatus.ACCEPTED
    offer.agreement_id = agreement.id
    audit.record(
        session,
        actor,
        "agreement.created",
        "agreement",
        agreement.id,
        instalments=option.instalments,
        total_cents=option.total_cents,
    )
    return agreement


def decline(offer: AgreementOffer) -> None:
    """The debtor said no."""
    offer.status = OfferStatus.DECLINED


def complete_if_paid(session: Session, agreement: Agreement) -> bool:
    """Mark the agreement completed (and its invoices paid) once every instalment is paid."""
    if agreement.status != AgreementStatus.ACTIVE:
        return False
    if any(i.status != InstalmentStatus.PAID for i in agreement.instalments):
        return False
    agreement.status = AgreementStatus.COMPLETED
    agreement.completed_at = utcnow()
    for invoice in agreement.invoices:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = invoice.paid_at or agreement.completed_at
    return True


def break_overdue(session: Session, today: date) -> list[int]:
    """Break active agreements with an instalment overdue beyond the creditor's limit; the remaining
    instalments are cancelled and the invoices return to collection. Returns the broken agreements.
    An agreement held by a payment case is not broken: its lateness may be the money under review."""
    broken: list[int] = []
    candidates = session.scalars(
        select(Agreement)
        .join(Instalment, Instalment.agreement_id == Agreement.id)
        .where(
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.pause_reason.is_(None),
            Instalment.status == InstalmentStatus.OPEN,
            Instalment.due_date < today,
        )
        .distinct()
    ).all()
    for agreement in candidates:
        limit = policy_for(session, agreement.creditor_id).break_after_days
        overdue = [
            i
            for i in agreement.instalments
            if i.status == InstalmentStatus.OPEN and (today - i.due_date).days > limit
        ]
        if not overdue:
            continue
        agreement.status = AgreementStatus.BROKEN
        agreement.broken_at = utcnow()
        session.execute(
            update(Instalment)
            .where(Instalment.agreement_id == agreement.id, Instalment.status == InstalmentStatus.OPEN)
            .values(status=InstalmentStatus.CANCELLED)
            .execution_options(synchronize_session="fetch")
        )
        for invoice in agreement.invoices:
            if invoice.status == InvoiceStatus.IN_AGREEMENT:
                invoice.status = InvoiceStatus.OPEN
        audit.record(
            session,
            "system",
            "agreement.broken",
            "agreement",
            agreement.id,
            overdue_instalment=overdue[0].number,
            days=(today - overdue[0].due_date).days,
        )
        broken.append(agreement.id)
    return broken


def instalment_reference(instalment: Instalment) -> str:
    """The reference of an instalment in payment confirmations and Pix txids: "A12P3"."""
    return f"A{instalment.agreement_id}P{instalment.number}"


def parse_instalment_reference(reference: str) -> tuple[int, int] | None:
    """(agreement id, instalment number) of "A12P3", or None."""
    match = re.fullmatch(r"A(\d+)P(\d+)", reference.strip().upper())
    return (int(match.group(1)), int(match.group(2))) if match else None


def moment_to_date(moment: datetime, timezone: str) -> date:
    """A moment's calendar date in the debtor's time zone (see `bot.localtime.local_date`)."""
    return local_date(moment, timezone)
