"""Invoices: what a debtor owes a creditor."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import InvoiceStatus
from bot.models.parties import Creditor, Debtor

# Pause reasons that hold collection with no end date, until an agent resolves the case.
DISPUTE = "dispute"
PAYMENT_REVIEW = "payment_review"  # a payment did not match the charge (bot.payments.mismatches)
HOLD_REASONS = frozenset({DISPUTE, PAYMENT_REVIEW})


class Invoice(TimestampMixin, Base):
    """One receivable. Money is integer centavos, never a float."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("creditor_id", "external_ref"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="RESTRICT"), index=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"), index=True)
    # The creditor's own identifier of the invoice; imports are idempotent on (creditor, external_ref).
    external_ref: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.OPEN, index=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Payment instruments as issued by the creditor's bank or PSP (validated and rendered by bot.payments).
    boleto_line: Mapped[str | None] = mapped_column(String(48))  # linha digitável, digits only
    pix_code: Mapped[str | None] = mapped_column(Text)  # Pix "copia e cola" (BR Code payload)
    payment_url: Mapped[str | None] = mapped_column(String(500))

    # Collection (reminders) paused until this time: a "já paguei" claim waits for its receipt. A dispute
    # or a payment under review (HOLD_REASONS) holds it with no end date, until an agent decides.
    # `pause_reason` says which.
    collection_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(40))

    creditor: Mapped[Creditor] = relationship(back_populates="invoices")
    debtor: Mapped[Debtor] = relationship(back_populates="invoices")

    @property
    def on_hold(self) -> bool:
        """True while a dispute or a payment under review holds collection (until an agent decides)."""
        return self.pause_reason in HOLD_REASONS

    def is_overdue(self, today: date) -> bool:
        """True when the invoice is still open after its due date."""
        return self.status == InvoiceStatus.OPEN and self.due_date < today

    def __repr__(self) -> str:
        return f"<Invoice {self.id} {self.external_ref} {self.status}>"
