"""The question a results report answers: a period of Brasília days and, optionally, one creditor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.analytics import Filters, Period
from bot.localtime import DEFAULT_TZ, local_date

MAX_DAYS = 366  # a year and a day: enough for any comparison, bounded for the page


class BadQuery(ValueError):
    """The period or creditor asked for is not valid; the message is pt-BR, for the person."""


@dataclass(frozen=True)
class ReportQuery:
    """A period and an optional creditor (None: all)."""

    period: Period
    creditor_id: int | None = None

    @property
    def filters(self) -> Filters:
        """The metrics' filters of this question."""
        return Filters(creditor_id=self.creditor_id)


def default_period(now: datetime) -> Period:
    """The current month up to today, in Brasília."""
    today = local_date(now, DEFAULT_TZ)
    return Period(today.replace(day=1), today)


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadQuery(f"Data {what} inválida: use o formato AAAA-MM-DD.") from None


def parse(first: str | None, last: str | None, creditor: str | None, now: datetime) -> ReportQuery:
    """The question from text fields (ISO dates, a creditor id; empty ones take the defaults: this month,
    every creditor). Raises `BadQuery` for a date that is not one, a period that ends before it starts
    or is longer than `MAX_DAYS`, or a creditor that is not a number."""
    default = default_period(now)
    first_day = _day(first, "inicial") if first and first.strip() else default.first_day
    last_day = _day(last, "final") if last and last.strip() else default.last_day
    if last_day < first_day:
        raise BadQuery("A data final é anterior à inicial.")
    if last_day - first_day >= timedelta(days=MAX_DAYS):
        raise BadQuery(f"Escolha um período de até {MAX_DAYS} dias.")
    creditor_id = None
    if creditor and creditor.strip():
        if not creditor.strip().isdigit():
            raise BadQuery("Credor inválido.")
        creditor_id = int(creditor)
    return ReportQuery(Period(first_day, last_day), creditor_id)
