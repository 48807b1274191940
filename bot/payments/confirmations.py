"""Applying payment confirmations (provider webhooks, creditors' payment files): idempotent, auditable.

A confirmation names a charge by reference: an invoice's external reference (with the creditor's CNPJ
when references could clash) or an instalment's "A<agreement>P<number>". Applying one:
* records a `Payment` (unique per provider and provider id: a repeated confirmation changes nothing);
* marks the invoice or instalment paid when it is open and the amount covers it;
* otherwise opens a case for the team and adjusts collection (`bot.payments.mismatches`): a smaller
  amount (`partial`), an invoice in an active agreement (`on_agreement`), a cancelled invoice or
  instalment (`on_cancelled`), a charge already paid (`already_paid`). Nothing is guessed;
* completes the agreement when its last instalment is paid;
* lifts a "já paguei" pause and resolves the open payment claim for that invoice;
* stops every pending reminder at once (reminders are only ever sent for open charges);
* queues a short thank-you to the debtor in a conversation where one may be sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, texts
from bot.agreements import lifecycle, references
from bot.channels.whatsapp_window import whatsapp_window_open
from bot.config import Settings
from bot.delivery.outgoing import Reply, save_replies
from bot.documents import InvalidDocument, normalize_cnpj
from bot.models import (
    Agreement,
    AgreementStatus,
    Case,
    CaseKind,
    CaseStatus,
    Channel,
    Conversation,
    Creditor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    utcnow,
)
from bot.payments import mismatches
from bot.payments.providers import Confirmation

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What applying one confirmation did."""

    # paid | partial | on_agreement | on_cancelled | already_paid | duplicate (the same confirmation
    # again) | unknown_reference | unknown_creditor
    outcome: str
    payment_id: int | None = None
    invoice_id: int | None = None
    instalment_id: int | None = None
    case_id: int | None = None  # the case opened (or added to) for a payment that did not match
    thanked_conversations: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True unless the confirmation could not be matched to anything."""
        return self.outcome not in ("unknown_reference", "unknown_creditor")


def _creditor(session: Session, cnpj: str | None) -> Creditor | bool | None:
    """The creditor of `cnpj`; None when no CNPJ was given; False when it names no creditor."""
    if not cnpj:
        return None
    try:
        digits = normalize_cnpj(cnpj)
    except InvalidDocument:
        return False
    found = session.scalar(select(Creditor).where(Creditor.cnpj == digits))
    return found if found is not None else False


def _find(
    session: Session, confirmation: Confirmation
) -> tuple[Invoice | None, Instalment | None, str | None]:
    """(invoice, instalment, error) for the confirmation's reference."""
    creditor = _creditor(session, confirmation.creditor_cnpj)
    if creditor is False:
        return None, None, "unknown_creditor"
    instalment_ref = references.parse_instalment_reference(confirmation.reference)
    if instalment_ref is not None:
        agreement_id, number = instalment_ref
        instalment = session.scalar(
            select(Instalment)
            .join(Agreement)
            .where(Instalment.agreement_id == agreement_id, Instalment.number == number)
        )
        if instalment is not None and (creditor is None or instalment.agreement.creditor_id == creditor.id):
            return None, instalment, None
        return None, None, "unknown_reference"
    query = select(Invoice).where(Invoice.external_ref == confirmation.reference)
    if creditor is not None:
        query = query.where(Invoice.creditor_id == creditor.id)
    found = session.scalars(query.limit(2)).all()
    if len(found) != 1:  # none, or the same reference at two creditors without a CNPJ to tell them apart
        return None, None, "unknown_reference"
    return found[0], None, None


def apply(session: Session, settings: Settings, provider: str, confirmation: Confirmation) -> Applied:
    """Apply one confirmation (see the module docstring)."""
    existing = session.scalar(
        select(Payment.id).where(
            Payment.provider == provider, Payment.external_id == confirmation.external_id
        )
    )
    if existing is not None:
        return Applied("duplicate", payment_id=existing)
    invoice, instalment, error = _find(session, confirmation)
    if error is not None:
        log.warning("payment %s/%s: %s", provider, confirmation.external_id, error)
        return Applied(error)
    creditor_id = invoice.creditor_id if invoice is not None else instalment.agreement.creditor_id  # type: ignore[union-attr]
    payment = Payment(
        provider=provider,
        external_id=confirmation.external_id,
        creditor_id=creditor_id,
        invoice_id=invoice.id if invoice is not None else None,
        instalment_id=instalment.id if instalment is not None else None,
        amount_cents=confirmation.amount_cents,
        paid_at=confirmation.paid_at,
        details={"reference": confirmation.reference},
    )
    session.add(payment)
    session.flush()
    applied = Applied(
        "paid",
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
        instalment_id=payment.instalment_id,
    )
    if invoice is not None:
        _pay_invoice(session, invoice, payment, applied)
        label, debtor_id, creditor = (
            texts.invoice_label(invoice.description, invoice.external_ref),
            invoice.debtor_id,
            invoice.creditor,
        )
    else:
        assert instalment is not None
        _pay_instalment(session, instalment, payment, applied)
        agreement = instalment.agreement
        label = texts.instalment_label(instalment.number, agreement.id)
        debtor_id, creditor = agreement.debtor_id, agreement.creditor
    audit.record(
        session,
        f"provider:{provider}",
        f"payment.{applied.outcome}",
        "payment",
        payment.id,
        reference=confirmation.reference,
        amount_cents=confirmation.amount_cents,
    )
    if applied.outcome == "paid":
        text = texts.payment_received(confirmation.amount_cents, label, creditor.display_name)
        applied.thanked_conversations = thank(session, settings, debtor_id, text)
    return applied


def _pay_invoice(session: Session, invoice: Invoice, payment: Payment, applied: Applied) -> None:
    """Pay an open invoice, or route the mismatch to a case (see `bot.payments.mismatches`)."""
    due = invoice.amount_cents
    if invoice.status == InvoiceStatus.PAID:
        applied.outcome = "already_paid"
        _case(session, applied, CaseKind.DUPLICATE_PAYMENT, payment, invoice.debtor_id, due, invoice=invoice)
        return
    if invoice.status == InvoiceStatus.CANCELLED:
        applied.outcome = "on_cancelled"
        _case(
            session, applied, CaseKind.PAYMENT_ON_CANCELLED, payment, invoice.debtor_id, None, invoice=invoice
        )
        return
    if invoice.status == InvoiceStatus.IN_AGREEMENT:
        # The invoice's debt now lives in the agreement: flipping it to paid would leave the instalments
        # charged. The team decides how the money counts; meanwhile the instalments are not charged.
        applied.outcome = "on_agreement"
        agreement = mismatches.active_agreement_of(session, invoice)
        if agreement is not None:
            mismatches.hold_agreement(agreement)
        _case(
            session,
            applied,
            CaseKind.PAYMENT_ON_AGREEMENT,
            payment,
            invoice.debtor_id,
            due,
            invoice=invoice,
            agreement=agreement,
        )
        return
    if payment.amount_cents < due:
        applied.outcome = "partial"
        mismatches.hold_invoice(invoice)  # reminders must not keep asking for the full amount
        _case(session, applied, CaseKind.PARTIAL_PAYMENT, payment, invoice.debtor_id, due, invoice=invoice)
        return
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = payment.paid_at
    invoice.collection_paused_until = None
    invoice.pause_reason = None
    for case in session.scalars(
        select(Case).where(
            Case.invoice_id == invoice.id, Case.kind == CaseKind.PAYMENT_CLAIM, Case.status == CaseStatus.OPEN
        )
    ):
        case.status = CaseStatus.RESOLVED
        case.resolved_at = utcnow()
        case.resolution = "pagamento confirmado"


def _pay_instalment(session: Session, instalment: Instalment, payment: Payment, applied: Applied) -> None:
    """Pay an open instalment, or route the mismatch to a case (see `bot.payments.mismatches`)."""
    agreement = instalment.agreement
    due = instalment.amount_cents
    if instalment.status == InstalmentStatus.PAID:
        applied.outcome = "already_paid"
        _case(
            session,
            applied,
            CaseKind.DUPLICATE_PAYMENT,
            payment,
            agreement.debtor_id,
            due,
            agreement=agreement,
        )
        return
    if instalment.status == InstalmentStatus.CANCELLED or agreement.status != AgreementStatus.ACTIVE:
        applied.outcome = "on_cancelled"
        _case(
            session,
            applied,
            CaseKind.PAYMENT_ON_CANCELLED,
            payment,
            agreement.debtor_id,
            None,
            agreement=agreement,
        )
        return
    if payment.amount_cents < due:
        applied.outcome = "partial"
        mismatches.hold_agreement(agreement)  # no reminder asks for the full instalment meanwhile
        _case(
            session, applied, CaseKind.PARTIAL_PAYMENT, payment, agreement.debtor_id, due, agreement=agreement
        )
        return
    instalment.status = InstalmentStatus.PAID
    instalment.paid_at = payment.paid_at
    lifecycle.complete_if_paid(session, agreement)


def _case(
    session: Session,
    applied: Applied,
    kind: CaseKind,
    payment: Payment,
    debtor_id: int,
    due_cents: int | None,
    *,
    invoice: Invoice | None = None,
    agreement: Agreement | None = None,
) -> None:
    case = mismatches.open_case(
        session, kind, payment, debtor_id=debtor_id, due_cents=due_cents, invoice=invoice, agreement=agreement
    )
    applied.case_id = case.id


def thank(session: Session, settings: Settings, debtor_id: int, text: str) -> list[int]:
    """Queue `text` in the debtor's conversation where a free-form message may go now: WhatsApp within
    24 hours of the debtor's last message, else SMS. Returns the conversation ids (to deliver)."""
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.debtor_id == debtor_id)
        .order_by(Conversation.last_inbound_at.desc())
    ).all()
    now = utcnow()
    for conversation in conversations:
        if conversation.channel == Channel.WHATSAPP and not whatsapp_window_open(
            conversation.last_inbound_at, now
        ):
            continue  # outside the window only approved templates may go (the régua sends those)
        save_replies(session, settings, conversation, [Reply(text)])
        return [conversation.id]
    return []
