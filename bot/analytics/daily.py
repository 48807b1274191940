"""Precomputed results: the counts of docs/metrics.md per Brasília day and slice (`analytics_daily`).

Computed live, a month of 50,000 reminders takes about 2 s; a dashboard over millions of rows cannot wait
for that. `refresh` recomputes whole days with the same conditions as `collection_metrics` (the flags of
`contact_flags`, the attributed promises, agreements and payments of `outcomes`, the billed messages of
`costs`), grouped by creditor, step, channel, variant and segment; `summed` and `sliced` add those rows up
and divide only then, so a period's numbers equal the live ones (tests/unit/test_analytics_daily.py).

What adds up and what does not: every count is per contact or per message, so days add up, except a
promise or agreement attributed to two contacts sent on different days of the same slice (two reminders
in a week both followed by one promise), which the sum counts twice and the live query once. The refresh
runs hourly from the worker's sweep over the last `REFRESH_DAYS` days (outcomes keep arriving for a week,
promises and agreements are decided later); older days stay as last computed unless
`regua report refresh --from ... --to ...` recomputes them. The default windows (24 h, 7 days) are used.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, delete, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.analytics.contacts import contacts
from bot.analytics.costs import billed, carrying_messages
from bot.analytics.metrics import contact_flags
from bot.analytics.outcomes import (
    agreement_counts,
    attributed_agreements,
    attributed_promises,
    promise_counts,
    recovered_payments,
)
from bot.analytics.scope import Filters, Period, Scope, Windows
from bot.analytics.sql import count_where, for_analytics
from bot.db import Database
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import AnalyticsRefresh, DailyResult, Message, utcnow

log = logging.getLogger(__name__)

KEYS = ("creditor_id", "step_id", "channel", "variant", "segment")
# How many days back the hourly refresh recomputes (a 90-day-old reminder's outcomes are long settled).
REFRESH_DAYS = 90
# Days computed by one set of queries: each query's planning costs the same whatever it covers, so a
# month at a time is ~30 times cheaper than day by day (measured in bench/analytics.py).
CHUNK_DAYS = 31
COUNTS = (
    "contacts",
    "messages",
    "delivered",
    "read",
    "replied",
    "opened",
    "pix",
    "line",
    "promised",
    "agreed",
    "paid",
    "opted_out",
    "complained",
    "handed_off",
    "promises_kept",
    "promises_resolved",
    "agreements_broken",
    "agreements_counted",
    "recovered_cents",
    "sms_segments",
    "whatsapp_conversations",
)

Key = tuple[Any, ...]


class _local_day(FunctionElement[date]):
    """(timestamp): its calendar day in Brasília."""

    type = Date()
    inherit_cache = True
    name = "local_day"


@compiles(_local_day, "postgresql")
def _local_day_postgresql(element: _local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('{DEFAULT_TZ}', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(_local_day, "sqlite")
def _local_day_sqlite(element: _local_day, compiler: SQLCompiler, **kw: Any) -> str:
    # UTC text; Brasília has been UTC-3 all year since daylight saving time ended in 2019.
    return f"date({compiler.process(element.clauses, **kw)}, '-3 hours')"


def _grouped(session: Session, source: Any, names: tuple[str, ...], *aggregates: Any) -> dict[Key, dict]:
    """{(day, *slice key): {name: value}} of `aggregates` over `source` grouped by its day and `KEYS`."""
    keys = [source.c.day, *(source.c[k] for k in KEYS)]
    rows = session.execute(select(*keys, *aggregates).select_from(source).group_by(*keys))
    return {tuple(row[: len(keys)]): dict(zip(names, row[len(keys) :], strict=True)) for row in rows}


def period_counts(
    session: Session, period: Period, windows: Windows | None = None
) -> dict[Key, dict[str, int]]:
    """The counts of every day and slice of the contacts sent in `period`, by (Brasília day, *`KEYS`)."""
    scope = Scope(period, Filters(), windows or Windows())
    c = contacts(scope)
    keys = [_local_day(c.c.sent_at).label("day"), *(c.c[k] for k in KEYS)]
    flags = contact_flags(c.c, scope)
    stmt = (
        select(
            *keys,
            func.count().label("contacts"),
            func.count(func.distinct(c.c.message_id)).label("messages"),
            *(count_where(condition).label(name) for name, condition in flags.items()),
        )
        .join_from(c, Message, Message.id == c.c.message_id)
        .group_by(*keys)
    )
    found: dict[Key, dict[str, int]] = {}
    for row in session.execute(stmt):
        found[tuple(row[: len(keys)])] = dict(row._mapping)
    attribution = scope.windows.attribution_seconds
    promises = attributed_promises(c, attribution, *keys)
    agreements = attributed_agreements(c, attribution, *keys)
    payments = recovered_payments(c, attribution, *keys)
    messages = carrying_messages(c, *keys)
    parts = (
        _grouped(session, promises, ("promises_kept", "promises_resolved"), *promise_counts(promises)),
        _grouped(
            session, agreements, ("agreements_broken", "agreements_counted"), *agreement_counts(agreements)
        ),
        _grouped(session, payments, ("recovered_cents",), func.sum(payments.c.amount_cents)),
        _grouped(session, messages, ("sms_segments", "whatsapp_conversations"), *billed(messages)),
    )
    for part in parts:
        for key, values in part.items():
            found[key].update(values)
    return {key: {name: int(values.get(name) or 0) for name in COUNTS} for key, values in found.items()}


def refresh(session: Session, first_day: date, last_day: date, now: datetime | None = None) -> int:
    """Recompute the rows of every day from `first_day` to `last_day` (in the caller's transaction, so
    readers see the old rows until it commits) and record the run; returns how many rows were written."""
    for_analytics(session)
    session.execute(delete(DailyResult).where(DailyResult.day >= first_day, DailyResult.day <= last_day))
    written = 0
    start = first_day
    while start <= last_day:
        end = min(start + timedelta(days=CHUNK_DAYS - 1), last_day)
        rows = [
            dict(zip(("day", *KEYS), key, strict=True), **counts)
            for key, counts in period_counts(session, Period(start, end)).items()
        ]
        if rows:
            session.execute(DailyResult.__table__.insert(), rows)
        written += len(rows)
        start = end + timedelta(days=1)
    session.add(AnalyticsRefresh(first_day=first_day, last_day=last_day, finished_at=now or utcnow()))
    session.flush()
    return written


def refresh_recent(database: Database, now: datetime | None = None, days: int = REFRESH_DAYS) -> int:
    """The periodic refresh: recompute the last `days` days up to today (Brasília) and commit."""
    now = now or utcnow()
    today = local_date(now, DEFAULT_TZ)
    with database.session() as session:
        written = refresh(session, today - timedelta(days=days - 1), today, now)
        session.commit()
    log.info("analytics aggregates refreshed: %s day(s), %s row(s)", days, written)
    return written


def refreshed_at(session: Session) -> datetime | None:
    """When the aggregates were last refreshed (None: never)."""
    return session.scalar(select(func.max(AnalyticsRefresh.finished_at)))
