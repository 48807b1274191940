"""Every metric of docs/metrics.md on the hand-built data set of `analytics_data`, for the whole period and
for each value of each dimension; the right answers are written here, worked out from that module's table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bot.analytics import (
    NO_DATA,
    CollectionMetrics,
    Dimension,
    Filters,
    Period,
    Prices,
    Rate,
    Scope,
    Windows,
    breakdown,
    collection_metrics,
)
from bot.config import ConfigError, load_settings
from bot.db import Database
from bot.models import (
    Agreement,
    Conversation,
    Creditor,
    Debtor,
    Direction,
    Instalment,
    Message,
    OutboxEntry,
    Payment,
    PaymentLink,
    PaymentLinkView,
)
from tests.unit import analytics_data

PRICES = Prices(sms_per_segment=Decimal("0.0735"), whatsapp_per_conversation=Decimal("0.04"))
MARCH = Period(*analytics_data.MARCH)


def summary(m: CollectionMetrics) -> dict[str, Any]:
    """The metrics as (numerator, denominator) pairs and counts, to compare with a table."""

    def pair(rate: Rate) -> tuple[int, int]:
        return (rate.numerator, rate.denominator)

    return {
        "contacts": m.contacts,
        "messages": m.messages,
        "delivery": pair(m.delivery),
        "read": pair(m.read),
        "response": pair(m.response),
        "page_opened": pair(m.page_opened),
        "pix_copied": pair(m.pix_copied),
        "line_copied": pair(m.line_copied),
        "promise_to_pay": pair(m.promise_to_pay),
        "promise_kept": pair(m.promise_kept),
        "agreement": pair(m.agreement),
        "broken_agreement": pair(m.broken_agreement),
        "collection": pair(m.collection),
        "recovered_cents": m.recovered_cents,
        "opt_out": pair(m.opt_out),
        "complaint": pair(m.complaint),
        "handoff": pair(m.handoff),
        # SMS segments, WhatsApp conversations, and their cost in centavos at PRICES.
        "costs": (
            m.costs.sms_segments,
            m.costs.whatsapp_conversations,
            m.costs.sms_cents,
            m.costs.whatsapp_cents,
        ),
    }


# c3 and c4: the SMS contacts, which are also the contacts without a variant.
C3_AND_C4 = {
    "contacts": 2,
    "messages": 2,
    "delivery": (2, 2),
    "read": (0, 2),
    "response": (2, 2),
    "page_opened": (0, 2),
    "pix_copied": (0, 2),
    "line_copied": (0, 2),
    "promise_to_pay": (0, 2),
    "promise_kept": (0, 0),
    "agreement": (1, 2),
    "broken_agreement": (1, 1),
    "collection": (0, 2),
    "recovered_cents": 0,
    "opt_out": (1, 2),
    "complaint": (1, 2),
    "handoff": (2, 2),
    "costs": (3, 0, 22, 0),
}

EVERY_CONTACT = {
    "contacts": 6,
    "messages": 6,
    "delivery": (5, 6),
    "read": (2, 5),
    "response": (4, 6),
    "page_opened": (3, 6),
    "pix_copied": (2, 6),
    "line_copied": (1, 6),
    "promise_to_pay": (2, 6),
    "promise_kept": (1, 1),
    "agreement": (1, 6),
    "broken_agreement": (1, 1),
    "collection": (3, 6),
    "recovered_cents": 18000,
    "opt_out": (1, 6),
    "complaint": (1, 6),
    "handoff": (2, 6),
    "costs": (3, 3, 22, 12),
}

BY_DIMENSION = {
    Dimension.CREDITOR: [
        (
            "A",
            {
                "contacts": 5,
                "messages": 5,
                "delivery": (5, 5),
                "read": (2, 5),
                "response": (4, 5),
                "page_opened": (3, 5),
                "pix_copied": (2, 5),
                "line_copied": (1, 5),
                "promise_to_pay": (1, 5),
                "promise_kept": (1, 1),
                "agreement": (1, 5),
                "broken_agreement": (1, 1),
                "collection": (2, 5),
                "recovered_cents": 10000,
                "opt_out": (1, 5),
                "complaint": (1, 5),
                "handoff": (2, 5),
                "costs": (3, 2, 22, 8),
            },
        ),
        (
            "B",
            {
                "contacts": 1,
                "messages": 1,
                "delivery": (0, 1),
                "read": (0, 0),
                "response": (0, 1),
                "page_opened": (0, 1),
                "pix_copied": (0, 1),
                "line_copied": (0, 1),
                "promise_to_pay": (1, 1),
                "promise_kept": (0, 0),
                "agreement": (0, 1),
                "broken_agreement": (0, 0),
                "collection": (1, 1),
                "recovered_cents": 8000,
                "opt_out": (0, 1),
                "complaint": (0, 1),
                "handoff": (0, 1),
                "costs": (0, 1, 0, 4),
            },
        ),
    ],
    Dimension.STEP: [
        (
            "d1",
            {
                "contacts": 5,
                "messages": 5,
                "delivery": (4, 5),
                "read": (1, 4),
                "response": (3, 5),
                "page_opened": (2, 5),
                "pix_copied": (1, 5),
                "line_copied": (1, 5),
                "promise_to_pay": (2, 5),
                "promise_kept": (1, 1),
                "agreement": (1, 5),
                "broken_agreement": (1, 1),
                "collection": (2, 5),
                "recovered_cents": 8000,
                "opt_out": (1, 5),
                "complaint": (1, 5),
                "handoff": (2, 5),
                "costs": (3, 3, 22, 12),
            },
        ),
        (
            "d5",
            {
                "contacts": 1,
                "messages": 1,
                "delivery": (1, 1),
                "read": (1, 1),
                "response": (1, 1),
                "page_opened": (1, 1),
                "pix_copied": (1, 1),
                "line_copied": (0, 1),
                "promise_to_pay": (0, 1),
                "promise_kept": (0, 0),
                "agreement": (0, 1),
                "broken_agreement": (0, 0),
                "collection": (1, 1),
                "recovered_cents": 10000,
                "opt_out": (0, 1),
                "complaint": (0, 1),
                "handoff": (0, 1),
                "costs": (0, 0, 0, 0),
            },
        ),
    ],
    Dimension.CHANNEL: [
        (
            "sms",
            C3_AND_C4,
        ),
        (
            "whatsapp",
            {
                "contacts": 4,
                "messages": 4,
                "delivery": (3, 4),
                "read": (2, 3),
                "response": (2, 4),
                "page_opened": (3, 4),
                "pix_copied": (2, 4),
                "line_copied": (1, 4),
                "promise_to_pay": (2, 4),
                "promise_kept": (1, 1),
                "agreement": (0, 4),
                "broken_agreement": (0, 0),
                "collection": (3, 4),
                "recovered_cents": 18000,
                "opt_out": (0, 4),
                "complaint": (0, 4),
                "handoff": (0, 4),
                "costs": (0, 3, 0, 12),
            },
        ),
    ],
    Dimension.VARIANT: [
        (
            "a",
            {
                "contacts": 3,
                "messages": 3,
                "delivery": (2, 3),
                "read": (2, 2),
                "response": (2, 3),
                "page_opened": (2, 3),
                "pix_copied": (2, 3),
                "line_copied": (0, 3),
                "promise_to_pay": (1, 3),
                "promise_kept": (0, 0),
                "agreement": (0, 3),
                "broken_agreement": (0, 0),
                "collection": (3, 3),
                "recovered_cents": 18000,
                "opt_out": (0, 3),
                "complaint": (0, 3),
                "handoff": (0, 3),
                "costs": (0, 2, 0, 8),
            },
        ),
        (
            "b",
            {
                "contacts": 1,
                "messages": 1,
                "delivery": (1, 1),
                "read": (0, 1),
                "response": (0, 1),
                "page_opened": (1, 1),
                "pix_copied": (0, 1),
                "line_copied": (1, 1),
                "promise_to_pay": (1, 1),
                "promise_kept": (1, 1),
                "agreement": (0, 1),
                "broken_agreement": (0, 0),
                "collection": (0, 1),
                "recovered_cents": 0,
                "opt_out": (0, 1),
                "complaint": (0, 1),
                "handoff": (0, 1),
                "costs": (0, 1, 0, 4),
            },
        ),
        (
            None,
            C3_AND_C4,
        ),
    ],
    Dimension.SEGMENT: [
        (
            "alto valor",
            {
                "contacts": 1,
                "messages": 1,
                "delivery": (1, 1),
                "read": (0, 1),
                "response": (1, 1),
                "page_opened": (0, 1),
                "pix_copied": (0, 1),
                "line_copied": (0, 1),
                "promise_to_pay": (0, 1),
                "promise_kept": (0, 0),
                "agreement": (1, 1),
                "broken_agreement": (1, 1),
                "collection": (0, 1),
                "recovered_cents": 0,
                "opt_out": (0, 1),
                "complaint": (1, 1),
                "handoff": (1, 1),
                "costs": (2, 0, 15, 0),
            },
        ),
        (
            "varejo",
            {
                "contacts": 3,
                "messages": 3,
                "delivery": (3, 3),
                "read": (2, 3),
                "response": (2, 3),
                "page_opened": (3, 3),
                "pix_copied": (2, 3),
                "line_copied": (1, 3),
                "promise_to_pay": (1, 3),
                "promise_kept": (1, 1),
                "agreement": (0, 3),
                "broken_agreement": (0, 0),
                "collection": (2, 3),
                "recovered_cents": 10000,
                "opt_out": (0, 3),
                "complaint": (0, 3),
                "handoff": (0, 3),
                "costs": (0, 2, 0, 8),
            },
        ),
        (
            None,
            {
                "contacts": 2,
                "messages": 2,
                "delivery": (1, 2),
                "read": (0, 1),
                "response": (1, 2),
                "page_opened": (0, 2),
                "pix_copied": (0, 2),
                "line_copied": (0, 2),
                "promise_to_pay": (1, 2),
                "promise_kept": (0, 0),
                "agreement": (0, 2),
                "broken_agreement": (0, 0),
                "collection": (1, 2),
                "recovered_cents": 8000,
                "opt_out": (1, 2),
                "complaint": (0, 2),
                "handoff": (1, 2),
                "costs": (1, 1, 7, 4),
            },
        ),
    ],
}


@pytest.fixture
def data(db: Database) -> analytics_data.DataSet:
    return analytics_data.build(db)


def test_every_metric_of_march_counts_the_six_contacts_as_worked_out_by_hand(
    db: Database, data: analytics_data.DataSet
) -> None:
    with db.session() as s:
        metrics = collection_metrics(s, Scope(MARCH), PRICES)
    assert summary(metrics) == EVERY_CONTACT
    assert metrics.delivery.label == "83,3 %"
    assert metrics.opt_out.value == pytest.approx(1000 / 6) and metrics.opt_out.label == "166,7 por mil"
    assert metrics.costs.total_cents == 34 and metrics.costs.total_label == "R$ 0,34"
    assert metrics.cost_per_real.value == pytest.approx(34 / 18000)
    assert metrics.cost_per_real.label == "R$ 0,0019 por R$ 1 recuperado"
    assert metrics.recovered_label == "R$ 180,00"


@pytest.mark.parametrize("dimension", list(Dimension))
def test_each_dimension_slices_the_contacts_into_the_values_worked_out_by_hand(
    db: Database, data: analytics_data.DataSet, dimension: Dimension
) -> None:
    creditor_ids = {"A": data.creditor_a, "B": data.creditor_b}
    expected = [(creditor_ids.get(key, key), table) for key, table in BY_DIMENSION[dimension]]  # type: ignore[arg-type]
    with db.session() as s:
        slices = breakdown(s, Scope(MARCH), PRICES, dimension)
    assert [(piece.key, summary(piece.metrics)) for piece in slices] == expected


def test_filters_combine_a_creditor_a_step_and_a_segment(db: Database, data: analytics_data.DataSet) -> None:
    filters = Filters(creditor_id=data.creditor_a, step_id="d1", segment="varejo")  # c1 and c2
    with db.session() as s:
        metrics = collection_metrics(s, Scope(MARCH, filters), PRICES)
    assert (metrics.contacts, metrics.messages) == (2, 2)
    assert (metrics.response.numerator, metrics.collection.numerator, metrics.recovered_cents) == (1, 1, 0)
    assert (metrics.costs.whatsapp_conversations, metrics.costs.whatsapp_cents) == (2, 8)


def test_longer_windows_count_the_late_reply_and_the_late_payment(
    db: Database, data: analytics_data.DataSet
) -> None:
    # c2's reply came exactly 48 h after it, and i2 was paid 8 days and 3 hours after it.
    windows = Windows(response_hours=48, attribution_days=9)
    with db.session() as s:
        metrics = collection_metrics(s, Scope(MARCH, windows=windows), PRICES)
    assert metrics.response == Rate(5, 6)
    assert metrics.collection == Rate(4, 6)
    assert metrics.recovered_cents == 38000


def test_a_period_without_reminders_says_sem_dados_instead_of_dividing_by_zero(
    db: Database, data: analytics_data.DataSet
) -> None:
    with db.session() as s:
        metrics = collection_metrics(s, Scope(Period(date(2026, 4, 1), date(2026, 4, 30))), PRICES)
    rates = [value for value in vars(metrics).values() if isinstance(value, Rate)]
    assert len(rates) == 14
    assert all(rate.value is None and rate.label == NO_DATA for rate in rates)
    assert (metrics.contacts, metrics.messages, metrics.recovered_cents, metrics.costs.total_cents) == (
        0,
        0,
        0,
        0,
    )
    assert metrics.cost_per_real.value is None and metrics.cost_per_real.label == NO_DATA


def test_an_empty_database_has_no_slices(db: Database) -> None:
    with db.session() as s:
        assert breakdown(s, Scope(MARCH), PRICES, Dimension.STEP) == []


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends on or after"):
        Period(date(2026, 3, 2), date(2026, 3, 1))


def test_the_prices_come_from_the_settings_and_a_bad_price_fails_loudly() -> None:
    prices = Prices.from_settings(
        load_settings({"SMS_PRICE_PER_SEGMENT": "0,08", "WHATSAPP_PRICE_PER_CONVERSATION": "0.05"})
    )
    assert prices == Prices(Decimal("0.08"), Decimal("0.05"))
    with pytest.raises(ConfigError, match="WHATSAPP_PRICE_PER_CONVERSATION"):
        load_settings({"WHATSAPP_PRICE_PER_CONVERSATION": "cinco centavos"})
    with pytest.raises(ConfigError, match="WHATSAPP_PRICE_PER_CONVERSATION"):
        load_settings({"WHATSAPP_PRICE_PER_CONVERSATION": "-1"})


def test_an_instalment_reminder_counts_its_page_its_payment_and_the_amount_paid(db: Database) -> None:
    at = analytics_data.at
    with db.session() as s:
        creditor = Creditor(legal_name="Loja A Ltda", cnpj="11111111000101", contact_channel="SAC A")
        debtor = Debtor(name="Pessoa", cpf="00000000009", phone="+5511999990009")
        s.add_all([creditor, debtor])
        s.flush()
        agreement = Agreement(creditor_id=creditor.id, debtor_id=debtor.id, debt_cents=9000, total_cents=9000)
        s.add(agreement)
        s.flush()
        instalment = Instalment(
            agreement_id=agreement.id, number=1, amount_cents=4500, due_date=date(2026, 3, 5),
            status="paid", paid_at=at(6, 10),
        )  # fmt: skip
        conversation = Conversation(channel="sms", address=debtor.phone, debtor_id=debtor.id)
        s.add_all([instalment, conversation])
        s.flush()
        message = Message(
            conversation_id=conversation.id, direction=Direction.OUTBOUND, channel="sms", status="delivered",
            segments=1, delivered_at=at(5, 12, 1),
        )  # fmt: skip
        link = PaymentLink(token="t-instalment", instalment_id=instalment.id, expires_at=at(30, 0, month=4))
        s.add_all([message, link])
        s.flush()
        s.add_all(
            [
                OutboxEntry(
                    instalment_id=instalment.id, debtor_id=debtor.id, creditor_id=creditor.id,
                    cadence="padrao", step_id="parcela", send_on=date(2026, 3, 5), channel="sms",
                    status="sent", message_id=message.id, sent_at=at(5, 12),
                ),
                PaymentLinkView(link_id=link.id, opened_at=at(6, 9)),
                Payment(
                    provider="pix", external_id="pi1", creditor_id=creditor.id, instalment_id=instalment.id,
                    amount_cents=4500, paid_at=at(6, 10),
                ),
            ]
        )  # fmt: skip
        s.commit()
        metrics = collection_metrics(s, Scope(MARCH), PRICES)
    assert (metrics.contacts, metrics.delivery, metrics.page_opened) == (1, Rate(1, 1), Rate(1, 1))
    assert (metrics.collection, metrics.recovered_cents) == (Rate(1, 1), 4500)
    assert (metrics.costs.sms_segments, metrics.costs.sms_cents) == (1, 7)
