"""The régua's outbox: one row per (invoice or instalment, cadence step), planned before anything is sent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import OutboxStatus


class OutboxEntry(TimestampMixin, Base):
    """A reminder step due for one invoice (or agreement instalment).

    Unique per (invoice, step) and per (instalment, step): the planner may run any number of times and
    a step is never planned twice. Dispatchers claim rows with a conditional UPDATE (`pending` →
    `sending` with a lease), re-check them right before sending, and record the message they sent.
    """

    __tablename__ = "reminder_outbox"
    __table_args__ = (
        UniqueConstraint("invoice_id", "step_id"),
        UniqueConstraint("instalment_id", "step_id"),
        # The dispatcher's question: which rows are due now?
        Index("ix_reminder_outbox_status_send_on", "status", "send_on"),
        # The metrics' question (bot.analytics): which reminders went out in a period?
        Index("ix_reminder_outbox_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    instalment_id: Mapped[int | None] = mapped_column(ForeignKey("instalments.id", ondelete="CASCADE"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("creditors.id", ondelete="CASCADE"))
    cadence: Mapped[str] = mapped_column(String(40))
    step_id: Mapped[str] = mapped_column(String(40))
    variant: Mapped[str | None] = mapped_column(String(20))
    # The debtor's local date the step is for (due date + offset); the contact window sets the hour.
    send_on: Mapped[date] = mapped_column(Date)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    # Which of the step's channels is being tried (WhatsApp failing falls back to the next one).
    channel_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    channel: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The message that carried it (several rows of one debtor share one combined message).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_code: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(80))
