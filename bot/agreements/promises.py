"""Promises to pay on a date ("consigo pagar só dia 15"): recorded, charged for that date, tracked.

* `promise` accepts a date within the creditor's `max_promise_days`: it records a `PaymentPromise` on
  the debtor's open invoices of the creditor with the largest debt, pauses their reminders until the
  date plus `GRACE_DAYS` (`pause_reason = "promise"`) and returns the amount due on that date (the
  caller sends the charge). A later promise on the same invoices replaces the open one.
* A date beyond the policy is not recorded: the caller offers the latest allowed date or an agreement.
* `settle` (hourly, from the sweep) decides open promises: `kept` when every invoice was paid by the
  date plus grace, `broken` once that moment passes with something unpaid; a broken promise lifts the
  pause so the reminders resume. Collection teams read the promise-kept rate from these rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.agreements.offers import largest_debt, updated_total
from bot.agreements.pricing import policy_for
from bot.models import (
    Conversation,
    Creditor,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PromiseStatus,
    utcnow,
)

# Days after the promised date before the promise counts as broken (a Pix on the day, a boleto that
# takes a business day to clear).
GRACE_DAYS = 2
PAUSE_REASON = "promise"


@dataclass(frozen=True)
class PromiseResult:
    """What a promise to pay came to: recorded (`promise`), beyond the policy (`latest` allowed date),
    in the past, or nothing to promise on."""

    promise: PaymentPromise | None = None
    creditor: Creditor | None = None
    invoices: list[Invoice] = field(default_factory=list)
    latest: date | None = None
    in_the_past: bool = False


def _deadline(promised_on: date) -> datetime:
    """The moment a promise stops being kept: the end of the grace days (UTC, a few hours of slack)."""
    return datetime.combine(promised_on + timedelta(days=GRACE_DAYS + 1), time.min, tzinfo=UTC)


def promise(
    session: Session, conversation: Conversation, today: date, promised_on: date, *, actor: str | None = None
) -> PromiseResult | None:
    """Record the debtor's promise to pay on `promised_on` if the creditor's policy allows the date.
    None when the debtor has nothing open to promise on. `actor` is who recorded it when not the debtor
    in the chat (an agent: "agent:<id>")."""
    assert conversation.debtor_id is not None
    debt = largest_debt(session, conversation.debtor_id, today)
    if debt is None:
        return None
    creditor, creditor_id, invoices = debt.creditor, debt.creditor.id, debt.invoices
    if promised_on < today:
        return PromiseResult(creditor=creditor, invoices=invoices, in_the_past=True)
    latest = today + timedelta(days=policy_for(session, creditor_id).max_promise_days)
    if promised_on > latest:
        return PromiseResult(creditor=creditor, invoices=invoices, latest=latest)
    ids = sorted(i.id for i in invoices)
    found = session.scalar(
        select(PaymentPromise).where(
            PaymentPromise.debtor_id == conversation.debtor_id,
            PaymentPromise.creditor_id == creditor_id,
            PaymentPromise.status == PromiseStatus.OPEN,
        )
    )
    if found is None:
        found = PaymentPromise(
            debtor_id=conversation.debtor_id,
            creditor_id=creditor_id,
            status=PromiseStatus.OPEN,
            created_by=actor or "bot",
        )
        session.add(found)
    found.conversation_id = conversation.id
    found.invoice_ids = ids
    found.promised_on = promised_on
    found.amount_cents = updated_total(invoices, creditor, promised_on)
    for invoice in invoices:
        invoice.pause_reason = PAUSE_REASON
        invoice.collection_paused_until = _deadline(promised_on)
    session.flush()
    audit.record(
        session,
        actor or f"debtor:{conversation.debtor_id}",
        "promise.recorded",
        "payment_promise",
        found.id,
        promised_on=promised_on.isoformat(),
        invoices=ids,
    )
    return PromiseResult(promise=found, creditor=creditor, invoices=invoices)


def settle(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Decide the open promises: kept when all their invoices are paid (by the deadline), broken when the
    deadline passed first. Returns how many of each."""
    now = now or utcnow()
    counts = {"kept": 0, "broken": 0}
    for found in session.scalars(select(PaymentPromise).where(PaymentPromise.status == PromiseStatus.OPEN)):
        deadline = _deadline(found.promised_on)
        invoices = session.scalars(select(Invoice).where(Invoice.id.in_(found.invoice_ids))).all()
        settled = all(i.status in (InvoiceStatus.PAID, InvoiceStatus.CANCELLED) for i in invoices)
        if settled:
            paid_late = any(i.paid_at is not None and i.paid_at > deadline for i in invoices)
            found.status = PromiseStatus.BROKEN if paid_late else PromiseStatus.KEPT
        elif now >= deadline:
            found.status = PromiseStatus.BROKEN
            for invoice in invoices:
                if invoice.status == InvoiceStatus.OPEN and invoice.pause_reason == PAUSE_REASON:
                    invoice.pause_reason = None  # the reminders resume
                    invoice.collection_paused_until = None
        else:
            continue
        found.resolved_at = now
        counts[found.status.value] += 1
        audit.record(
            session,
            "system",
            f"promise.{found.status.value}",
            "payment_promise",
            found.id,
            promised_on=found.promised_on.isoformat(),
        )
    return counts


def kept_rate(session: Session) -> float | None:
    """The share of decided promises that were kept (None before any is decided)."""
    statuses = session.scalars(
        select(PaymentPromise.status).where(PaymentPromise.status != PromiseStatus.OPEN)
    ).all()
    if not statuses:
        return None
    return sum(1 for s in statuses if s == PromiseStatus.KEPT) / len(statuses)
