""" "Já paguei" claims and disputes: recorded as cases for an agent, with collection paused meanwhile.

* A payment claim pauses the reminders of the debtor's open invoices for the creditor's
  `claim_pause_days`, opens a `payment_claim` case per invoice and asks for the receipt; a photo or PDF
  sent afterwards (or with the claim) is attached to the open claims as evidence.
* A dispute opens a `dispute` case per invoice and pauses its collection until an agent resolves it
  (`pause_reason = "dispute"`); disputed invoices are left out of renegotiation offers.

`ja_paguei` and `contestar_divida` are the bot's answers; `open_cases` and `resolve` serve the agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, texts
from bot.answers.turns import Turn, for_confirmed_debtor, own_message
from bot.config import Settings
from bot.delivery.outgoing import Reply
from bot.models import (
    Case,
    CaseKind,
    CaseStatus,
    Conversation,
    Invoice,
    InvoiceStatus,
    Message,
    as_utc,
    utcnow,
)
from bot.payments import mismatches

# A receipt sent this long after the claim still belongs to it.
RECEIPT_WINDOW = timedelta(days=7)


RECENTLY_PAID = timedelta(days=60)


@dataclass(frozen=True)
class ClaimResult:
    """What a claim or dispute touched."""

    invoices: list[Invoice]
    cases: list[Case]
    recently_paid: list[Invoice]
    receipt_attached: bool = False


def _open_invoices(session: Session, debtor_id: int) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def _open_case(session: Session, kind: CaseKind, invoice: Invoice) -> Case | None:
    return session.scalar(
        select(Case).where(Case.kind == kind, Case.invoice_id == invoice.id, Case.status == CaseStatus.OPEN)
    )


def _case(
    session: Session, kind: CaseKind, invoice: Invoice, conversation: Conversation, message_id: int | None
) -> Case:
    case = _open_case(session, kind, invoice)
    if case is None:
        case = Case(
            kind=kind,
            status=CaseStatus.OPEN,
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            conversation_id=conversation.id,
            message_id=message_id,
            evidence=[],
        )
        session.add(case)
        session.flush()
        audit.record(
            session, f"debtor:{invoice.debtor_id}", f"case.{kind.value}", "invoice", invoice.id, case=case.id
        )
    return case


def claim_paid(session: Session, conversation: Conversation, message_id: int | None) -> ClaimResult:
    """The debtor says it is paid: pause reminders, open payment claims, attach a receipt if one came."""
    assert conversation.debtor_id is not None
    now = utcnow()
    invoices = _open_invoices(session, conversation.debtor_id)
    if not invoices:
        paid = session.scalars(
            select(Invoice).where(
                Invoice.debtor_id == conversation.debtor_id,
                Invoice.status == InvoiceStatus.PAID,
                Invoice.paid_at >= now - RECENTLY_PAID,
            )
        ).all()
        return ClaimResult([], [], list(paid))
    cases = []
    for invoice in invoices:
        if not invoice.on_hold:  # a dispute or a payment under review already holds it, with no end date
            invoice.collection_paused_until = now + timedelta(days=invoice.creditor.claim_pause_days)
            invoice.pause_reason = "payment_claim"
        cases.append(_case(session, CaseKind.PAYMENT_CLAIM, invoice, conversation, message_id))
    message = session.get(Message, message_id) if message_id is not None else None
    attached = False
    if message is not None and message.conversation_id == conversation.id and message.media:
        attached = attach_receipt(session, conversation, message)
    return ClaimResult(invoices, cases, [], attached)


def attach_receipt(session: Session, conversation: Conversation, message: Message) -> bool:
    """Attach the message's media to the debtor's recent open payment claims. False if there is none."""
    if conversation.debtor_id is None or not message.media:
        return False
    cases = session.scalars(
        select(Case).where(
            Case.debtor_id == conversation.debtor_id,
            Case.kind == CaseKind.PAYMENT_CLAIM,
            Case.status == CaseStatus.OPEN,
            Case.created_at >= utcnow() - RECEIPT_WINDOW,
        )
    ).all()
    for case in cases:
        known = {item.get("url") for item in case.evidence}
        new = [
            {"url": m["url"], "content_type": m.get("content_type"), "message_id": message.id}
            for m in message.media
            if m.get("url") not in known
        ]
        case.evidence = [*case.evidence, *new]  # a new list, so the JSON column sees the change
    return bool(cases)


def dispute(session: Session, conversation: Conversation, message_id: int | None) -> ClaimResult:
    """The debtor disputes the debt: open dispute cases and pause collection until an agent decides."""
    assert conversation.debtor_id is not None
    invoices = _open_invoices(session, conversation.debtor_id)
    cases = []
    for invoice in invoices:
        invoice.pause_reason = "dispute"
        invoice.collection_paused_until = None
        cases.append(_case(session, CaseKind.DISPUTE, invoice, conversation, message_id))
    return ClaimResult(invoices, cases, [])


def open_cases(session: Session, kind: CaseKind | None = None) -> list[Case]:
    """Open cases, oldest first (the agents' queue)."""
    query = select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id)
    if kind is not None:
        query = query.where(Case.kind == kind)
    return list(session.scalars(query))


def resolve(session: Session, case: Case, *, actor: str, resolution: str, resume_collection: bool) -> None:
    """Close a case; `resume_collection` lifts the invoice's pause (a dispute found unfounded, say) and
    the hold a payment case put on an agreement (unless another open payment case still holds it)."""
    case.status = CaseStatus.RESOLVED
    case.resolved_at = utcnow()
    case.resolution = resolution
    if resume_collection and case.invoice is not None:
        case.invoice.pause_reason = None
        case.invoice.collection_paused_until = None
    if resume_collection:
        mismatches.release_agreement(session, case)
    audit.record(session, actor, "case.resolved", "case", case.id, resume_collection=resume_collection)


@for_confirmed_debtor
def ja_paguei(session: Session, settings: Settings, turn: Turn, conversation: Conversation) -> list[Reply]:
    """Check the claim: thank for a confirmed payment, or record it, pause reminders and ask the receipt."""
    result = claim_paid(session, conversation, own_message(session, conversation, turn))
    if not result.invoices:
        if result.recently_paid:
            paid = result.recently_paid[0]
            when = texts.paid_on(as_utc(paid.paid_at) if paid.paid_at else None)
            return [Reply(texts.already_paid(texts.invoice_label(paid.description, paid.external_ref), when))]
        return [Reply(texts.NO_OPEN_INVOICES)]
    labels = ", ".join(texts.invoice_label(i.description, i.external_ref) for i in result.invoices)
    days = max(i.creditor.claim_pause_days for i in result.invoices)
    return [Reply(texts.payment_claim(labels, days, [c.id for c in result.cases], result.receipt_attached))]


@for_confirmed_debtor
def contestar_divida(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> list[Reply]:
    """Record a dispute, pause collection of the invoices and queue it for an agent."""
    result = dispute(session, conversation, own_message(session, conversation, turn))
    if not result.invoices:
        return [Reply(texts.NOTHING_TO_DISPUTE)]
    labels = ", ".join(texts.invoice_label(i.description, i.external_ref) for i in result.invoices)
    return [Reply(texts.dispute_recorded(labels, [c.id for c in result.cases]))]
