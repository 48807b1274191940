"""An agreement's life: accepted from an offer, completed once paid, broken when an instalment is late.

* `accept`: an `Agreement` with its instalment schedule; the original invoices become `in_agreement`.
* `complete_if_paid`: completed (and its invoices paid) once every instalment is paid.
* `break_overdue` (from the sweep): an agreement with an instalment overdue for more than the policy's
  `break_after_days` is broken: the remaining instalments are cancelled and the invoices return to
  collection.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import audit
from bot.agreements.offers import chosen_option, terms
from bot.agreements.pricing import add_months, policy_for
from bot.models import (
    Agreement,
    AgreementOffer,
    AgreementStatus,
    Creditor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OfferStatus,
    utcnow,
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
