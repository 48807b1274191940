"""Read the precomputed results (bot.analytics.daily): a period's metrics are the sums of its days' counts,
divided only at the end, returned as the same `CollectionMetrics` and `Slice`s as the live functions."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.analytics.contacts import narrowed
from bot.analytics.daily import COUNTS
from bot.analytics.metrics import Dimension, metrics_of
from bot.analytics.results import CollectionMetrics, Slice
from bot.analytics.scope import Filters, Period, Prices
from bot.models import DailyResult

_SUMS = [func.coalesce(func.sum(getattr(DailyResult, name)), 0).label(name) for name in COUNTS]


def _within(stmt: Select[Any], period: Period, filters: Filters) -> Select[Any]:
    stmt = stmt.where(DailyResult.day >= period.first_day, DailyResult.day <= period.last_day)
    return narrowed(
        stmt,
        (DailyResult.creditor_id, filters.creditor_id),
        (DailyResult.step_id, filters.step_id),
        (DailyResult.channel, filters.channel),
        (DailyResult.variant, filters.variant),
        (DailyResult.segment, filters.segment),
    )


def summed(session: Session, period: Period, filters: Filters, prices: Prices) -> CollectionMetrics:
    """Every metric of the period and filters, from the aggregates."""
    row = session.execute(_within(select(*_SUMS), period, filters)).one()
    return metrics_of(dict(row._mapping), prices)


def sliced(session: Session, period: Period, filters: Filters, prices: Prices, by: Dimension) -> list[Slice]:
    """The metrics per value of `by` (in order; None last), from the aggregates."""
    column = getattr(DailyResult, by.value)
    rows = session.execute(_within(select(column, *_SUMS), period, filters).group_by(column)).all()
    rows.sort(key=lambda row: (row[0] is None, row[0]))
    return [Slice(row[0], metrics_of(dict(row._mapping), prices)) for row in rows]


def recovered_by_day(
    session: Session, period: Period, filters: Filters, by: Dimension
) -> list[tuple[date, Any, int, int]]:
    """(day, value of `by`, amount recovered in centavos, contacts) per day with contacts, in order."""
    column = getattr(DailyResult, by.value)
    stmt = _within(
        select(
            DailyResult.day,
            column,
            func.sum(DailyResult.recovered_cents),
            func.sum(DailyResult.contacts),
        ),
        period,
        filters,
    ).group_by(DailyResult.day, column)
    rows = [(row[0], row[1], int(row[2] or 0), int(row[3] or 0)) for row in session.execute(stmt)]
    rows.sort(key=lambda row: (row[0], row[1] is None, row[1]))
    return rows
