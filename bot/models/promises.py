"""Promises to pay on a date, made in the chat ("consigo pagar só dia 15"), and whether they were kept."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import PromiseStatus


class PaymentPromise(TimestampMixin, Base):
    """A debtor's promise to pay some open invoices of one creditor on `promised_on`.

    Collection teams measure the promise-kept rate: `status` ends `kept` when the invoices are paid by
    the date (plus the grace days) and `broken` otherwise (see bot.agreements.promises).
    """

    __tablename__ = "payment_promises"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    invoice_ids: Mapped[list[Any]] = mapped_column(JsonDoc)
    promised_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PromiseStatus] = mapped_column(
        str_enum(PromiseStatus, "promise_status"), default=PromiseStatus.OPEN, index=True
    )
    created_by: Mapped[str] = mapped_column(String(40), default="bot")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<PaymentPromise {self.id} {self.status}>"
