"""Precomputed collection results (bot.analytics.daily): one row of counts per local day and slice, so the
console's dashboard and `regua report` read a few thousand rows instead of millions of reminders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, UTCDateTime


class DailyResult(Base):
    """The counts behind every metric of docs/metrics.md for the contacts sent on one Brasília day by one
    creditor, step, channel, variant and debtor segment (None: no variant, no segment).

    Every column is a count (or centavos) that adds up across rows; rates are divided only when read
    (bot.analytics.daily), so a month is the sum of its days.
    """

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_day_creditor", "day", "creditor_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    creditor_id: Mapped[int] = mapped_column(BigInteger)
    step_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(20))
    variant: Mapped[str | None] = mapped_column(String(40))
    segment: Mapped[str | None] = mapped_column(String(40))
    contacts: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    read: Mapped[int] = mapped_column(Integer)
    replied: Mapped[int] = mapped_column(Integer)
    opened: Mapped[int] = mapped_column(Integer)
    pix: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)
    promised: Mapped[int] = mapped_column(Integer)
    agreed: Mapped[int] = mapped_column(Integer)
    paid: Mapped[int] = mapped_column(Integer)
    opted_out: Mapped[int] = mapped_column(Integer)
    complained: Mapped[int] = mapped_column(Integer)
    handed_off: Mapped[int] = mapped_column(Integer)
    promises_kept: Mapped[int] = mapped_column(Integer)
    promises_resolved: Mapped[int] = mapped_column(Integer)
    agreements_broken: Mapped[int] = mapped_column(Integer)
    agreements_counted: Mapped[int] = mapped_column(Integer)
    recovered_cents: Mapped[int] = mapped_column(BigInteger)
    sms_segments: Mapped[int] = mapped_column(Integer)
    whatsapp_conversations: Mapped[int] = mapped_column(Integer)


class AnalyticsRefresh(Base):
    """One run of the aggregates' refresh: which days it recomputed and when it finished (the dashboard
    says "atualizado às HH:MM" from the latest)."""

    __tablename__ = "analytics_refreshes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
