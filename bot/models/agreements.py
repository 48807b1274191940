"""Renegotiation: a creditor's policy, the options offered in a chat, and the agreements closed."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import AgreementStatus, InstalmentStatus, OfferStatus

if TYPE_CHECKING:
    from bot.models.invoices import Invoice
    from bot.models.parties import Creditor, Debtor


class AgreementPolicy(TimestampMixin, Base):
    """What a creditor allows the bot to offer. Nothing outside it is ever offered.

    Rates are in basis points (1 bp = 0.01 %): 1000 bp = 10 %.
    """

    __tablename__ = "agreement_policies"
    __table_args__ = (
        CheckConstraint("max_instalments BETWEEN 1 AND 60", name="max_instalments_range"),
        CheckConstraint("min_instalment_cents > 0", name="min_instalment_positive"),
        CheckConstraint("cash_discount_bps BETWEEN 0 AND 9000", name="cash_discount_range"),
        CheckConstraint("min_down_payment_bps BETWEEN 0 AND 10000", name="down_payment_range"),
        CheckConstraint("monthly_interest_bps BETWEEN 0 AND 1000", name="interest_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="CASCADE"), unique=True)
    max_instalments: Mapped[int] = mapped_column(Integer, default=6)
    min_instalment_cents: Mapped[int] = mapped_column(BigInteger, default=5000)
    # Interest per month on instalment plans (Price table); 0 = no interest.
    monthly_interest_bps: Mapped[int] = mapped_column(Integer, default=0)
    # Discount for paying everything at once.
    cash_discount_bps: Mapped[int] = mapped_column(Integer, default=0)
    # The first instalment (the down payment) is at least this share of the total.
    min_down_payment_bps: Mapped[int] = mapped_column(Integer, default=0)
    # Days until the first instalment is due, and between instalments.
    first_due_days: Mapped[int] = mapped_column(Integer, default=3)
    # An agreement with an instalment overdue for more than this many days is broken.
    break_after_days: Mapped[int] = mapped_column(Integer, default=15)
    # A promise to pay ("só dia 15") is accepted up to this many days ahead.
    max_promise_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")

    creditor: Mapped[Creditor] = relationship()


agreement_invoices = Table(
    "agreement_invoices",
    Base.metadata,
    Column("agreement_id", ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True),
    Column("invoice_id", ForeignKey("invoices.id", ondelete="RESTRICT"), primary_key=True),
)


class AgreementOffer(TimestampMixin, Base):
    """The options the bot offered in a conversation, waiting for the debtor's choice and confirmation."""

    __tablename__ = "agreement_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="CASCADE"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"))
    status: Mapped[OfferStatus] = mapped_column(
        str_enum(OfferStatus, "offer_status"), default=OfferStatus.OPEN
    )
    # [{"number": 1, "instalments": 1, "down_payment_cents": ..., "instalment_cents": ..., "total_cents": ...,
    #   "discount_cents": ..., "interest_cents": ..., "first_due": "YYYY-MM-DD"}, ...]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    invoice_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    chosen: Mapped[int | None] = mapped_column(Integer)  # option number
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id", ondelete="SET NULL"))


class Agreement(TimestampMixin, Base):
    """A renegotiated debt: the original invoices (now `in_agreement`) paid in instalments."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="RESTRICT"), index=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="RESTRICT"), index=True)
    status: Mapped[AgreementStatus] = mapped_column(
        str_enum(AgreementStatus, "agreement_status"), default=AgreementStatus.ACTIVE, index=True
    )
    # The updated debt when the agreement was made, and how the total was reached from it.
    debt_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    broken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    terms: Mapped[str | None] = mapped_column(Text)  # the text the debtor confirmed
    # Set while a payment case holds the agreement ("payment_review"): its instalments are not charged
    # and it is not broken for lateness until an agent resolves the case.
    pause_reason: Mapped[str | None] = mapped_column(String(40))

    creditor: Mapped[Creditor] = relationship()
    debtor: Mapped[Debtor] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(secondary=agreement_invoices)
    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="agreement", order_by="Instalment.number", cascade="all, delete-orphan"
    )


class Instalment(TimestampMixin, Base):
    """One payment of an agreement, with its own payment instruments."""

    __tablename__ = "instalments"
    __table_args__ = (
        UniqueConstraint("agreement_id", "number"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[InstalmentStatus] = mapped_column(
        str_enum(InstalmentStatus, "instalment_status"), default=InstalmentStatus.OPEN, index=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    boleto_line: Mapped[str | None] = mapped_column(String(48))
    pix_code: Mapped[str | None] = mapped_column(Text)
    payment_url: Mapped[str | None] = mapped_column(String(500))

    agreement: Mapped[Agreement] = relationship(back_populates="instalments")
