"""Cure and roll rates by days-past-due bucket on the hand-built data set of `analytics_data` (March 2026;
the days past due on 1 March are in that module's comments)."""

from __future__ import annotations

import pytest

from bot.analytics import NO_DATA, Filters, Period, bucket_rates
from bot.analytics.scope import UNSET
from bot.db import Database
from tests.unit import analytics_data

MARCH = Period(*analytics_data.MARCH)
LABELS = ["D+1–15", "D+16–30", "D+31–60", "D+61–90", "D+90+"]


def table(filters: Filters | None, db: Database) -> list[tuple[str, int, int, int, int]]:
    with db.session() as s:
        return [
            (b.label, b.invoices, b.cured, b.rolled, b.in_agreement) for b in bucket_rates(s, MARCH, filters)
        ]


@pytest.fixture
def data(db: Database) -> analytics_data.DataSet:
    return analytics_data.build(db)


def test_the_portfolio_of_march_cures_and_rolls_as_worked_out_by_hand(
    db: Database, data: analytics_data.DataSet
) -> None:
    # D+1–15: I1 and I5 paid, I4 and I10 (D+15, the bucket's last day) unpaid and past D+30 on 31 March.
    # D+16–30: I2 paid, I11 (D+16) rolls. D+31–60: I3 went into an agreement. D+90+: I6 has nowhere to roll.
    # Left out: I7 (not yet due on 1 March), I8 (paid in February), I9 (cancelled).
    assert table(None, db) == [
        ("D+1–15", 4, 2, 2, 0),
        ("D+16–30", 2, 1, 1, 0),
        ("D+31–60", 1, 0, 0, 1),
        ("D+61–90", 0, 0, 0, 0),
        ("D+90+", 1, 0, 0, 0),
    ]
    with db.session() as s:
        first, *_, empty, last = bucket_rates(s, MARCH)
    assert (first.cure.label, first.roll.label) == ("50,0 %", "50,0 %")
    assert empty.cure.label == NO_DATA and empty.roll.value is None
    assert (last.first_day, last.last_day) == (91, None)


def test_the_portfolio_narrows_by_creditor_segment_and_reminder(
    db: Database, data: analytics_data.DataSet
) -> None:
    assert table(Filters(creditor_id=data.creditor_b), db) == [
        ("D+1–15", 1, 1, 0, 0),
        *((label, 0, 0, 0, 0) for label in LABELS[1:]),
    ]
    assert table(Filters(segment="varejo"), db) == [
        ("D+1–15", 1, 1, 0, 0),
        ("D+16–30", 1, 1, 0, 0),
        *((label, 0, 0, 0, 0) for label in LABELS[2:]),
    ]
    assert table(Filters(segment=UNSET), db) == [
        ("D+1–15", 3, 1, 2, 0),
        ("D+16–30", 1, 0, 1, 0),
        ("D+31–60", 0, 0, 0, 0),
        ("D+61–90", 0, 0, 0, 0),
        ("D+90+", 1, 0, 0, 0),
    ]
    # Invoices reminded by step d1 in March: I1, I2, I3, I4 and I5.
    assert table(Filters(step_id="d1"), db) == [
        ("D+1–15", 3, 2, 1, 0),
        ("D+16–30", 1, 1, 0, 0),
        ("D+31–60", 1, 0, 0, 1),
        ("D+61–90", 0, 0, 0, 0),
        ("D+90+", 0, 0, 0, 0),
    ]


def test_an_empty_portfolio_has_every_bucket_without_data(db: Database) -> None:
    with db.session() as s:
        buckets = bucket_rates(s, MARCH)
    assert [b.label for b in buckets] == LABELS
    assert all(b.invoices == 0 and b.cure.label == NO_DATA and b.roll.label == NO_DATA for b in buckets)
