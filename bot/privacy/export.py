"""Access and portability (LGPD art. 18 II and V): everything held on one person, as JSON-ready data.

The export is built from the same selections erasure uses (`bot.privacy.subjects`), so what is exported
is what would be erased, plus what the creditor keeps. Payment-link tokens are left out: they are
bearer secrets, and a copy of the export must not open anyone's payment page.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from bot.models import (
    Agreement,
    AgreementOffer,
    AuditLog,
    Base,
    Case,
    Creditor,
    Debtor,
    Invoice,
    Message,
    OutboxEntry,
    Payment,
    PaymentLink,
    PaymentLinkView,
    utcnow,
)
from bot.privacy.subjects import conversations_of, opt_outs_of

FORMAT_VERSION = 1
_SECRET_COLUMNS = {"token"}  # payment-link tokens
# Operational columns of no interest to the person (locks of the processes that handle a conversation).
_INTERNAL_COLUMNS = {"lease_owner", "lease_expires_at", "claimed_by", "claimed_until"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | str):  # enums
        return value.value
    return value


def row(instance: Base) -> dict[str, Any]:
    """A model instance as a dict of its columns (JSON-ready values), secrets and locks left out."""
    columns = inspect(type(instance)).column_attrs
    return {
        c.key: _plain(getattr(instance, c.key))
        for c in columns
        if c.key not in _SECRET_COLUMNS | _INTERNAL_COLUMNS
    }


def collect(session: Session, debtor: Debtor, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything Régua holds on `debtor`: the person, their debts and payments, conversations with every
    message, cases, opt-out history, reminders and the audit entries about them."""
    invoices = list(
        session.scalars(select(Invoice).where(Invoice.debtor_id == debtor.id).order_by(Invoice.id))
    )
    invoice_ids = [i.id for i in invoices]
    agreements = list(
        session.scalars(select(Agreement).where(Agreement.debtor_id == debtor.id).order_by(Agreement.id))
    )
    instalments = [i for a in agreements for i in a.instalments]
    instalment_ids = [i.id for i in instalments]
    creditor_ids = sorted({i.creditor_id for i in invoices} | {a.creditor_id for a in agreements})
    creditors = list(
        session.scalars(select(Creditor).where(Creditor.id.in_(creditor_ids)).order_by(Creditor.id))
    )
    payments = list(
        session.scalars(
            select(Payment)
            .where(or_(Payment.invoice_id.in_(invoice_ids), Payment.instalment_id.in_(instalment_ids)))
            .order_by(Payment.id)
        )
    )
    links = list(
        session.scalars(
            select(PaymentLink)
            .where(
                or_(PaymentLink.invoice_id.in_(invoice_ids), PaymentLink.instalment_id.in_(instalment_ids))
            )
            .order_by(PaymentLink.id)
        )
    )
    views = list(
        session.scalars(
            select(PaymentLinkView)
            .where(PaymentLinkView.link_id.in_([link.id for link in links]))
            .order_by(PaymentLinkView.id)
        )
    )
    conversations = conversations_of(session, debtor)
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id.in_([c.id for c in conversations]))
            .order_by(Message.id)
        )
    )
    offers = session.scalars(
        select(AgreementOffer).where(AgreementOffer.debtor_id == debtor.id).order_by(AgreementOffer.id)
    )
    cases = session.scalars(select(Case).where(Case.debtor_id == debtor.id).order_by(Case.id))
    reminders = session.scalars(
        select(OutboxEntry).where(OutboxEntry.debtor_id == debtor.id).order_by(OutboxEntry.id)
    )
    audit = session.scalars(
        select(AuditLog)
        .where(
            or_(
                (AuditLog.entity_type == "debtor") & (AuditLog.entity_id == str(debtor.id)),
                AuditLog.actor == f"debtor:{debtor.id}",
            )
        )
        .order_by(AuditLog.id)
    )
    return {
        "format_version": FORMAT_VERSION,
        "generated_at": _plain(now or utcnow()),
        "person": row(debtor),
        "creditors": [
            {
                k: v
                for k, v in row(c).items()
                if k in ("id", "legal_name", "trade_name", "cnpj", "contact_channel")
            }
            for c in creditors
        ],
        "invoices": [row(i) for i in invoices],
        "agreements": [row(a) | {"instalments": [row(i) for i in a.instalments]} for a in agreements],
        "agreement_offers": [row(o) for o in offers],
        "payments": [row(p) for p in payments],
        "payment_links": [
            row(link) | {"views": [row(v) for v in views if v.link_id == link.id]} for link in links
        ],
        "conversations": [
            row(c) | {"messages": [row(m) for m in messages if m.conversation_id == c.id]}
            for c in conversations
        ],
        "cases": [row(c) for c in cases],
        "opt_out_events": [row(e) for e in opt_outs_of(session, debtor)],
        "reminders": [row(r) for r in reminders],
        "audit_log": [row(a) for a in audit],
    }


def counts(data: dict[str, Any]) -> dict[str, int]:
    """How many records of each kind an export holds (for the audit log: counts, never contents)."""
    out = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    out["messages"] = sum(len(c["messages"]) for c in data["conversations"])
    return out
