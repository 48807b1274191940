"""The precomputed aggregates (bot.analytics.daily) give the same numbers as the live metrics on the
hand-built data set of `analytics_data`: for the whole month, per creditor, and per value of each
dimension."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import redis
import time_machine
from rq import Queue

from bot import runtime
from bot.analytics import Dimension, Filters, Period, Prices, Scope, breakdown, collection_metrics, jobs
from bot.analytics.daily import refresh, refresh_recent, refreshed_at
from bot.analytics.summed import recovered_by_day, sliced, summed
from bot.conversation import sweep, sweep_schedule
from bot.db import Database
from bot.models import DailyResult
from tests.unit import analytics_data

PRICES = Prices(sms_per_segment=Decimal("0.0735"), whatsapp_per_conversation=Decimal("0.04"))
MARCH = Period(*analytics_data.MARCH)
REFRESHED = datetime(2026, 4, 10, 15, 30, tzinfo=UTC)


@pytest.fixture
def data(db: Database) -> analytics_data.DataSet:
    built = analytics_data.build(db)
    with db.session() as s:
        refresh(s, date(2026, 2, 1), date(2026, 4, 5), REFRESHED)
        s.commit()
    return built


def test_the_month_summed_from_its_days_equals_the_month_computed_live(db: Database, data) -> None:
    with db.session() as s:
        assert summed(s, MARCH, Filters(), PRICES) == collection_metrics(s, Scope(MARCH), PRICES)


def test_each_creditor_summed_equals_the_creditor_computed_live(db: Database, data) -> None:
    with db.session() as s:
        for creditor in (data.creditor_a, data.creditor_b):
            filters = Filters(creditor_id=creditor)
            live = collection_metrics(s, Scope(MARCH, filters), PRICES)
            assert summed(s, MARCH, filters, PRICES) == live


@pytest.mark.parametrize("by", list(Dimension))
def test_every_slice_summed_equals_the_slice_computed_live(db: Database, data, by: Dimension) -> None:
    with db.session() as s:
        assert sliced(s, MARCH, Filters(), PRICES, by) == breakdown(s, Scope(MARCH), PRICES, by)


def test_the_recovery_by_day_credits_each_payment_to_the_day_of_its_last_reminder(db: Database, data) -> None:
    with db.session() as s:
        days = recovered_by_day(s, MARCH, Filters(creditor_id=data.creditor_a), Dimension.STEP)
    # c1 (2 March, d1) is not credited: c5 (3 March, d5) is the last reminder before i1's payment.
    assert days == [(date(2026, 3, 2), "d1", 0, 4), (date(2026, 3, 3), "d5", 10000, 1)]


def test_a_refresh_replaces_the_days_it_covers_and_records_when_it_ran(db: Database, data) -> None:
    with db.session() as s:
        before = s.query(DailyResult).count()
        refresh(s, date(2026, 3, 1), date(2026, 3, 31), datetime(2026, 4, 11, 9, 0, tzinfo=UTC))
        s.commit()
        assert s.query(DailyResult).count() == before
        assert refreshed_at(s) == datetime(2026, 4, 11, 9, 0, tzinfo=UTC)


def test_the_periodic_refresh_covers_the_recent_days_only(db: Database, data) -> None:
    with db.session() as s:
        s.query(DailyResult).delete()
        s.commit()
    refresh_recent(db, datetime(2026, 3, 3, 15, 0, tzinfo=UTC), days=1)  # 3 March only
    with db.session() as s:
        assert {row.day for row in s.query(DailyResult)} == {date(2026, 3, 3)}


def test_without_a_refresh_there_is_no_freshness_to_show(db: Database) -> None:
    with db.session() as s:
        assert refreshed_at(s) is None
        assert summed(s, MARCH, Filters(), PRICES).collection.label == "sem dados"


def test_the_hourly_sweep_queues_one_refresh_job_that_recomputes_the_recent_days(
    db: Database, services, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    analytics_data.build(db)
    services.later = runtime.RqLater(redis_conn)
    monkeypatch.setattr("bot.runtime.services", lambda: services)
    with time_machine.travel(datetime(2026, 3, 4, 12, 0, tzinfo=UTC), tick=False):
        sweep.sweep_once(services)
        sweep.sweep_once(services)  # a second worker's sweep in the same hour
        queued = [j for j in Queue(sweep_schedule.DEFAULT_QUEUE, connection=redis_conn).jobs]
        assert [j.func_name for j in queued] == [jobs.REFRESH_JOB]
        assert jobs.refresh() > 0
    with db.session() as s:
        assert refreshed_at(s) == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
        assert summed(s, MARCH, Filters(), PRICES).contacts == 6
