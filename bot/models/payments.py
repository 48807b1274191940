"""Payments received, payment-page links (their views and copy events), and the cases queued for agents."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import CaseKind, CaseStatus, PageEvent

if TYPE_CHECKING:
    from bot.models.agreements import Instalment
    from bot.models.invoices import Invoice


class PaymentLink(TimestampMixin, Base):
    """An unguessable, expiring link to the payment page of an invoice or an instalment."""

    __tablename__ = "payment_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    instalment_id: Mapped[int | None] = mapped_column(
        ForeignKey("instalments.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    invoice: Mapped[Invoice | None] = relationship()
    instalment: Mapped[Instalment | None] = relationship()


class PaymentLinkView(Base):
    """One opening of a payment page: the engagement signal (a debtor looked at how to pay)."""

    __tablename__ = "payment_link_views"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("payment_links.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(200))


class PaymentPageEvent(Base):
    """A copy button pressed on a payment page (Pix code, linha digitável), reported by the page's script."""

    __tablename__ = "payment_page_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("payment_links.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PageEvent] = mapped_column(str_enum(PageEvent, "page_event"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Payment(TimestampMixin, Base):
    """A payment confirmed by a provider (webhook) or a creditor's file. Idempotent on (provider, id)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(100))
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="RESTRICT"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    instalment_id: Mapped[int | None] = mapped_column(ForeignKey("instalments.id", ondelete="SET NULL"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class Case(TimestampMixin, Base):
    """Something an agent must look at: a debtor says an invoice is paid, or disputes it, or a payment
    does not match what was charged."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[CaseKind] = mapped_column(str_enum(CaseKind, "case_kind"), index=True)
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "case_status"), default=CaseStatus.OPEN, index=True
    )
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # Payment mismatches: the payment that opened the case (unique: one payment never opens two cases)
    # and the agreement whose instalments are held while the case is open.
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), unique=True
    )
    agreement_id: Mapped[int | None] = mapped_column(
        ForeignKey("agreements.id", ondelete="SET NULL"), index=True
    )
    # What the debtor sent as evidence: [{"url": ..., "content_type": ..., "message_id": ...}, ...]; for a
    # payment mismatch, the payments: [{"payment_id": ..., "amount_cents": ..., "due_cents": ...}, ...]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice | None] = relationship()
