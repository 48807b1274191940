"""Cure and roll rates by days-past-due bucket: how the overdue portfolio moved during a period.

The population is every invoice overdue on the period's first day (due before it), not paid before the
period, not cancelled and not already in an agreement. By the end of the period each one is cured (paid),
in an agreement, rolled (unpaid and in a later bucket on the last day) or still in its bucket. Days past
due are counted in calendar days from the due date (D+1 is the day after it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.analytics.contacts import is_contact, narrowed
from bot.analytics.results import BucketRates
from bot.analytics.scope import Filters, Period
from bot.analytics.sql import count_where, for_analytics
from bot.models import Agreement, Debtor, Invoice, InvoiceStatus, OutboxEntry, agreement_invoices

# (label, first day past due, last day past due or None).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("D+1–15", 1, 15),
    ("D+16–30", 16, 30),
    ("D+31–60", 31, 60),
    ("D+61–90", 61, 90),
    ("D+90+", 91, None),
)


def _bucket(day: date) -> ColumnElement[int]:
    """The index in BUCKETS of an invoice's days past due on `day` (the invoice is overdue on it)."""
    whens = [
        (Invoice.due_date >= day - timedelta(days=last), index)
        for index, (_, _, last) in enumerate(BUCKETS)
        if last is not None
    ]
    return case(*whens, else_=len(BUCKETS) - 1)


def _in_agreement_before(moment: Any) -> ColumnElement[bool]:
    """The invoice was put in an agreement before `moment`."""
    return (
        select(agreement_invoices.c.invoice_id)
        .join(Agreement, Agreement.id == agreement_invoices.c.agreement_id)
        .where(agreement_invoices.c.invoice_id == Invoice.id, Agreement.created_at < moment)
        .exists()
    )


def _reminded(period: Period, filters: Filters) -> ColumnElement[bool]:
    """The invoice had a contact matching the step, channel and variant filters in the period."""
    stmt = select(OutboxEntry.id).where(
        OutboxEntry.invoice_id == Invoice.id,
        is_contact(OutboxEntry),
        OutboxEntry.sent_at >= period.start,
        OutboxEntry.sent_at < period.end,
    )
    return narrowed(
        stmt,
        (OutboxEntry.step_id, filters.step_id),
        (OutboxEntry.channel, filters.channel),
        (OutboxEntry.variant, filters.variant),
    ).exists()


def bucket_rates(session: Session, period: Period, filters: Filters | None = None) -> list[BucketRates]:
    """Cure and roll per bucket of days past due on the period's first day (every bucket, even empty).

    Filters by creditor and segment narrow the portfolio; filters by step, channel or variant keep the
    invoices that got such a reminder during the period.
    """
    for_analytics(session)
    filters = filters or Filters()
    cured = and_(Invoice.paid_at.is_not(None), Invoice.paid_at < period.end)
    agreed = and_(~cured, _in_agreement_before(period.end))
    population = (
        select(
            _bucket(period.first_day).label("start_bucket"),
            _bucket(period.last_day).label("end_bucket"),
            case((cured, 1), else_=0).label("cured"),
            case((agreed, 1), else_=0).label("agreed"),
        )
        .join(Debtor, Debtor.id == Invoice.debtor_id)
        .where(
            Invoice.due_date < period.first_day,
            Invoice.status != InvoiceStatus.CANCELLED,
            or_(Invoice.paid_at.is_(None), Invoice.paid_at >= period.start),
            ~_in_agreement_before(period.start),
        )
    )
    population = narrowed(
        population, (Invoice.creditor_id, filters.creditor_id), (Debtor.segment, filters.segment)
    )
    if any(v is not None for v in (filters.step_id, filters.channel, filters.variant)):
        population = population.where(_reminded(period, filters))
    rows = population.subquery()
    rolled = (rows.c.cured == 0) & (rows.c.agreed == 0) & (rows.c.end_bucket > rows.c.start_bucket)
    stmt = select(
        rows.c.start_bucket,
        func.count(),
        func.coalesce(func.sum(rows.c.cured), 0),
        func.coalesce(func.sum(rows.c.agreed), 0),
        count_where(rolled),
    ).group_by(rows.c.start_bucket)
    counts = {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in session.execute(stmt)}
    result = []
    for index, (label, first, last) in enumerate(BUCKETS):
        invoices, cured_count, agreed_count, rolled_count = counts.get(index, (0, 0, 0, 0))
        result.append(BucketRates(label, first, last, invoices, cured_count, rolled_count, agreed_count))
    return result
