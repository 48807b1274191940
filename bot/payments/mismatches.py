"""Payments that do not match what was charged: each one becomes a case for the team, never a guess.

A confirmation is recorded as a `Payment` whatever it says; when it does not simply pay an open charge,
the money is left for a person to sort out and collection is adjusted meanwhile:

* `partial_payment`: less than the invoice's (instalment's) amount. The invoice (the agreement) is held:
  not charged until the case is resolved.
* `payment_on_agreement`: the invoice is in an active agreement. The agreement is held: its instalments
  are not charged, nor is it broken for lateness, until the case is resolved.
* `payment_on_cancelled`: the invoice or instalment was cancelled. Nothing to charge.
* `duplicate_payment`: the charge was already paid (a refund is likely). Collection is unchanged.

Holding, not re-pricing: a reminder or chat message asking for "the rest" would have to guess how the
creditor applies a partial payment to fines and interest; a person decides, then resolves the case with
`regua cases resolve <id> --resume` (the hold is lifted and collection resumes).

One payment opens at most one case (`cases.payment_id` is unique); a second mismatching payment of the
same kind on the same charge is added to the open case's evidence instead of opening another.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.models import (
    PAYMENT_REVIEW,
    Agreement,
    AgreementStatus,
    Case,
    CaseKind,
    CaseStatus,
    Invoice,
    Payment,
    agreement_invoices,
)

# The kinds whose open case holds collection (see the table above).
HOLDING_KINDS = (CaseKind.PARTIAL_PAYMENT, CaseKind.PAYMENT_ON_AGREEMENT)


def active_agreement_of(session: Session, invoice: Invoice) -> Agreement | None:
    """The active agreement that holds `invoice` (an `in_agreement` invoice), or None."""
    return session.scalar(
        select(Agreement)
        .join(agreement_invoices, agreement_invoices.c.agreement_id == Agreement.id)
        .where(agreement_invoices.c.invoice_id == invoice.id, Agreement.status == AgreementStatus.ACTIVE)
        .order_by(Agreement.id.desc())
    )


def hold_invoice(invoice: Invoice) -> None:
    """Stop charging the invoice until an agent resolves the case (a dispute stays a dispute)."""
    if not invoice.on_hold:
        invoice.pause_reason = PAYMENT_REVIEW
        invoice.collection_paused_until = None


def hold_agreement(agreement: Agreement) -> None:
    """Stop charging the agreement's instalments (and breaking it) until an agent resolves the case."""
    agreement.pause_reason = PAYMENT_REVIEW


def open_case(
    session: Session,
    kind: CaseKind,
    payment: Payment,
    *,
    debtor_id: int,
    due_cents: int | None,
    invoice: Invoice | None = None,
    agreement: Agreement | None = None,
) -> Case:
    """The open case of `kind` for this charge with `payment` in its evidence (a new case when there is
    none), and an audit row. `due_cents` is what the charge asked for (None when nothing was due)."""
    evidence = {
        "payment_id": payment.id,
        "provider": payment.provider,
        "reference": (payment.details or {}).get("reference"),
        "amount_cents": payment.amount_cents,
        "due_cents": due_cents,
    }
    same_invoice = Case.invoice_id == invoice.id if invoice is not None else Case.invoice_id.is_(None)
    same_agreement = (
        Case.agreement_id == agreement.id if agreement is not None else Case.agreement_id.is_(None)
    )
    case = session.scalar(
        select(Case)
        .where(
            Case.kind == kind,
            Case.status == CaseStatus.OPEN,
            Case.debtor_id == debtor_id,
            same_invoice,
            same_agreement,
        )
        .order_by(Case.id)
    )
    if case is None:
        case = Case(
            kind=kind,
            status=CaseStatus.OPEN,
            debtor_id=debtor_id,
            invoice_id=invoice.id if invoice is not None else None,
            agreement_id=agreement.id if agreement is not None else None,
            payment_id=payment.id,
            evidence=[evidence],
        )
        session.add(case)
        session.flush()
    else:
        case.evidence = [*case.evidence, evidence]  # a new list, so the JSON column sees the change
    audit.record(
        session, f"provider:{payment.provider}", f"case.{kind.value}", "payment", payment.id, case=case.id
    )
    return case


def release_agreement(session: Session, case: Case) -> None:
    """Lift the case's hold on its agreement, unless another open case still holds it."""
    agreement = session.get(Agreement, case.agreement_id) if case.agreement_id is not None else None
    if agreement is None or agreement.pause_reason != PAYMENT_REVIEW:
        return
    others = session.scalar(
        select(Case.id).where(
            Case.agreement_id == agreement.id,
            Case.kind.in_(HOLDING_KINDS),
            Case.status == CaseStatus.OPEN,
            Case.id != case.id,
        )
    )
    if others is None:
        agreement.pause_reason = None
