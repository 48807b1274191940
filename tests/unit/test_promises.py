"""Promises to pay on a date: the dates debtors write, the policy's horizon, kept and broken promises."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.agreements import promise_dates, promises
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PromiseStatus,
    utcnow,
)
from tests.conftest import PHONE, People

WEDNESDAY = date(2026, 12, 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("consigo pagar so dia 15, pode ser?", date(2026, 12, 15)),
        ("pago dia 5", date(2027, 1, 5)),  # the 5th has passed: next month's
        ("dia 9 eu pago", WEDNESDAY),
        ("posso pagar 20/12?", date(2026, 12, 20)),
        ("pago 10/01", date(2027, 1, 10)),
        ("pago 10/01/2027", date(2027, 1, 10)),
        ("pago sexta sem falta", date(2026, 12, 11)),
        ("pago na sexta-feira", date(2026, 12, 11)),
        ("quarta que vem", date(2026, 12, 16)),  # today's weekday means next week's
        ("pago amanhã", date(2026, 12, 10)),
        ("amanha", date(2026, 12, 10)),
        ("depois de amanhã", date(2026, 12, 11)),
        ("pago hoje", WEDNESDAY),
        ("sábado", date(2026, 12, 12)),
    ],
)
def test_the_dates_debtors_write_are_read_from_their_today(text: str, expected: date) -> None:
    assert promise_dates.parse(text, WEDNESDAY) == expected


@pytest.mark.parametrize("text", ["pago quando der", "dia 32", "31/02", "pago em 10/10/2020", ""])
def test_no_date_or_an_impossible_or_past_one_is_none(text: str) -> None:
    assert promise_dates.parse(text, WEDNESDAY) is None


@pytest.fixture
def conversation(db: Database, people: People) -> int:
    with db.session() as s:
        found = Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id)
        s.add(found)
        s.flush()
        return found.id


def _promise(db: Database, conversation_id: int, days: int) -> promises.PromiseResult | None:
    today = date.today()
    with db.session() as s:
        return promises.promise(
            s, s.get_one(Conversation, conversation_id), today, today + timedelta(days=days)
        )


def test_a_promise_within_the_policy_is_recorded_and_pauses_the_reminders_until_the_date(
    db: Database, conversation: int, people: People
) -> None:
    result = _promise(db, conversation, 5)
    assert result is not None and result.promise is not None and result.latest is None
    promised_on = date.today() + timedelta(days=5)
    with db.session() as s:
        found = s.scalars(select(PaymentPromise)).one()
        assert (found.status, found.promised_on, found.debtor_id) == (
            PromiseStatus.OPEN,
            promised_on,
            people.debtor_id,
        )
        open_invoices = s.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.OPEN)).all()
        assert sorted(found.invoice_ids) == sorted(i.id for i in open_invoices)
        assert found.amount_cents >= sum(i.amount_cents for i in open_invoices)
        for invoice in open_invoices:
            assert invoice.pause_reason == "promise"
            assert invoice.collection_paused_until.date() > promised_on  # type: ignore[union-attr]


def test_a_promise_beyond_the_policy_is_not_recorded_and_names_the_latest_date(
    db: Database, conversation: int
) -> None:
    result = _promise(db, conversation, 30)
    assert result is not None and result.promise is None
    assert result.latest == date.today() + timedelta(days=10)  # the default policy: 10 days
    with db.session() as s:
        assert s.scalars(select(PaymentPromise)).all() == []
        assert all(i.pause_reason is None for i in s.scalars(select(Invoice)))


def test_a_new_promise_replaces_the_open_one(db: Database, conversation: int) -> None:
    _promise(db, conversation, 3)
    _promise(db, conversation, 7)
    with db.session() as s:
        assert [p.promised_on for p in s.scalars(select(PaymentPromise))] == [
            date.today() + timedelta(days=7)
        ]


def test_paying_by_the_date_keeps_the_promise(db: Database, conversation: int) -> None:
    _promise(db, conversation, 2)
    with db.session() as s:
        for invoice in s.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.OPEN)):
            invoice.status, invoice.paid_at = InvoiceStatus.PAID, utcnow()
    with db.session() as s:
        assert promises.settle(s) == {"kept": 1, "broken": 0}
        assert s.scalars(select(PaymentPromise.status)).one() == PromiseStatus.KEPT
        assert promises.kept_rate(s) == 1.0


def test_an_unpaid_promise_breaks_after_the_grace_days_and_the_reminders_resume(
    db: Database, conversation: int
) -> None:
    _promise(db, conversation, 2)
    with db.session() as s:
        assert promises.settle(s) == {"kept": 0, "broken": 0}  # not yet due
        later = datetime.combine(date.today() + timedelta(days=6), datetime.min.time()).astimezone()
        assert promises.settle(s, later) == {"kept": 0, "broken": 1}
        assert s.scalars(select(PaymentPromise.status)).one() == PromiseStatus.BROKEN
        assert all(i.pause_reason is None for i in s.scalars(select(Invoice)))
        assert promises.kept_rate(s) == 0.0
