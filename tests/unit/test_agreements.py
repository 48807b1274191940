"""Updated amounts and renegotiation: options within the policy, reading choices, the agreement's life."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.agreements import lifecycle, offers, pricing, references
from bot.db import Database
from bot.models import (
    Agreement,
    AgreementOffer,
    AgreementPolicy,
    AgreementStatus,
    Channel,
    Conversation,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OfferStatus,
)
from bot.payments.amounts import updated_amount
from tests.conftest import PHONE, People

TODAY = date(2026, 11, 23)

# ---- updated amounts ------------------------------------------------------------------------------------


def test_nothing_is_added_until_the_due_date_has_passed() -> None:
    on_time = updated_amount(10000, TODAY, TODAY)
    assert (on_time.fine_cents, on_time.interest_cents, on_time.total_cents) == (0, 0, 10000)
    assert not on_time.has_charges


def test_fine_and_pro_rata_interest() -> None:
    # R$ 1.000,00, 45 days late: fine 2 % = R$ 20,00; interest 1 %/month × 45/30 = R$ 15,00.
    late = updated_amount(100000, TODAY - timedelta(days=45), TODAY)
    assert (late.fine_cents, late.interest_cents, late.total_cents, late.days_late) == (
        2000,
        1500,
        103500,
        45,
    )


def test_each_component_rounds_half_up_once() -> None:
    # 2 % of R$ 0,25 = 0,5 centavo -> 1; 1 %/month of R$ 0,25 for 1 day = 0,0083 centavo -> 0.
    tiny = updated_amount(25, TODAY - timedelta(days=1), TODAY)
    assert (tiny.fine_cents, tiny.interest_cents) == (1, 0)
    # 1 %/month of R$ 159,90 for 9 days = 47,97 centavos -> 48.
    assert updated_amount(15990, TODAY - timedelta(days=9), TODAY).interest_cents == 48


def test_rates_are_per_creditor_and_money_is_never_a_float() -> None:
    custom = updated_amount(100000, TODAY - timedelta(days=30), TODAY, fine_bps=0, monthly_interest_bps=33)
    assert (custom.fine_cents, custom.interest_cents) == (0, 330)
    with pytest.raises(TypeError):
        updated_amount(100.0, TODAY, TODAY)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        updated_amount(-1, TODAY, TODAY)


# ---- options --------------------------------------------------------------------------------------------


def _policy(**overrides: int) -> AgreementPolicy:
    return AgreementPolicy(creditor_id=1, **{**pricing.DEFAULT_POLICY, **overrides})


def test_default_policy_offers_cash_and_instalments_up_to_six() -> None:
    options = pricing.compute_options(90000, _policy(), TODAY)
    assert [o.instalments for o in options] == [1, 3, 6]
    assert [o.number for o in options] == [1, 2, 3]
    assert all(o.total_cents == 90000 for o in options)  # no discount, no interest by default
    assert options[0].first_due == (TODAY + timedelta(days=3)).isoformat()
    assert options[2].describe() == "6x de R$ 150,00 (total R$ 900,00)"


def test_the_count_the_debtor_asked_for_is_offered_when_allowed() -> None:
    assert [o.instalments for o in pricing.compute_options(90000, _policy(), TODAY, requested=4)] == [
        1,
        4,
        6,
    ]
    # 10x is over the policy's maximum: never offered.
    assert 10 not in [o.instalments for o in pricing.compute_options(90000, _policy(), TODAY, requested=10)]


def test_instalments_never_go_below_the_minimum_nor_above_the_maximum() -> None:
    policy = _policy(max_instalments=12, min_instalment_cents=10000)
    for debt in (5000, 25000, 90000, 500000):
        for option in pricing.compute_options(debt, policy, TODAY):
            assert option.instalments <= 12
            if option.instalments > 1:
                assert min(option.first_cents, option.instalment_cents) >= 10000
    assert [o.instalments for o in pricing.compute_options(25000, policy, TODAY)] == [1, 2]


def test_cash_discount_down_payment_and_interest() -> None:
    policy = _policy(cash_discount_bps=1000, min_down_payment_bps=2000, monthly_interest_bps=200)
    options = pricing.compute_options(100000, policy, TODAY)
    cash = options[0]
    assert (cash.total_cents, cash.discount_cents) == (90000, 10000)
    assert cash.describe() == "À vista: R$ 900,00 (desconto de R$ 100,00)"
    plan = options[-1]  # 6x: R$ 200,00 down, R$ 800,00 over 5 months at 2 %/month (Price)
    assert plan.first_cents == 20000
    assert plan.instalment_cents == 16973  # 80000 × 0.02 / (1 − 1.02⁻⁵) = 169.73
    assert plan.total_cents == 20000 + 5 * 16973 and plan.interest_cents == plan.total_cents - 100000
    assert plan.describe().startswith("entrada de R$ 200,00 + 5x de R$ 169,73")


def test_month_arithmetic_clamps_to_the_end_of_short_months() -> None:
    assert pricing.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert pricing.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert pricing.add_months(date(2026, 5, 15), 12) == date(2027, 5, 15)


# ---- reading the debtor's choice ---------------------------------------------------------------------


OPTIONS = pricing.compute_options(90000, _policy(), TODAY)  # 1) à vista  2) 3x  3) 6x


@pytest.mark.parametrize(
    ("text", "parcelas", "instalments"),
    [
        ("2", None, 3),
        ("opção 3", None, 6),
        ("a primeira", None, 1),
        ("quero a segunda", None, 3),
        ("prefiro em 6x", None, 6),
        ("pode ser em seis vezes", None, 6),
        ("3 parcelas", None, 3),
        ("à vista", None, 1),
        ("avista pfv", None, 1),
        ("fecha assim", "6x", 6),
    ],
)
def test_choices_by_number_words_and_entity(text: str, parcelas: str | None, instalments: int) -> None:
    option = offers.pick(text, OPTIONS, parcelas)
    assert option is not None and option.instalments == instalments


@pytest.mark.parametrize("text", ["9", "em 10x", "quanto fica?", "5 reais", ""])
def test_what_is_not_a_choice_is_left_to_the_nlu(text: str) -> None:
    assert offers.pick(text, OPTIONS) is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Sim", True),
        ("sim, pode fechar", True),
        ("OK", True),
        ("não", False),
        ("nao quero mais", False),
        ("?", None),
    ],
)
def test_yes_or_no(text: str, answer: bool | None) -> None:
    assert offers.yes_or_no(text) is answer


# ---- the agreement's life -----------------------------------------------------------------------------


@pytest.fixture
def offer_id(db: Database, people: People) -> int:
    """An offer on the fixture debtor's two open invoices, option 3 (6x) chosen."""
    with db.session() as s:
        conversation = Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        offer, _ = offers.make_offer(s, conversation, TODAY)
        offers.choose(offer, offers.options_of(offer)[-1])
        return offer.id


def test_accepting_creates_the_schedule_and_takes_the_invoices_out_of_collection(
    db: Database, offer_id: int
) -> None:
    with db.session() as s:
        offer = s.get_one(AgreementOffer, offer_id)
        option = offers.chosen_option(offer)
        agreement = lifecycle.accept(s, offer, actor="test")
        assert offer.status == OfferStatus.ACCEPTED and offer.agreement_id == agreement.id
        assert [i.number for i in agreement.instalments] == [1, 2, 3, 4, 5, 6]
        assert (
            sum(i.amount_cents for i in agreement.instalments) == option.total_cents == agreement.total_cents
        )
        assert agreement.instalments[0].due_date == option.first_due_date
        assert agreement.instalments[1].due_date == pricing.add_months(option.first_due_date, 1)
        assert {i.status for i in agreement.invoices} == {InvoiceStatus.IN_AGREEMENT}
        assert len(agreement.invoices) == 2
        assert "6x de" in (agreement.terms or "")


def test_paying_every_instalment_completes_the_agreement(db: Database, offer_id: int) -> None:
    with db.session() as s:
        agreement = lifecycle.accept(s, s.get_one(AgreementOffer, offer_id), actor="test")
        for instalment in agreement.instalments[:-1]:
            instalment.status = InstalmentStatus.PAID
        assert lifecycle.complete_if_paid(s, agreement) is False
        agreement.instalments[-1].status = InstalmentStatus.PAID
        assert lifecycle.complete_if_paid(s, agreement) is True
        assert agreement.status == AgreementStatus.COMPLETED
        assert {i.status for i in agreement.invoices} == {InvoiceStatus.PAID}


def test_an_instalment_overdue_beyond_the_limit_breaks_the_agreement(db: Database, offer_id: int) -> None:
    with db.session() as s:
        agreement = lifecycle.accept(s, s.get_one(AgreementOffer, offer_id), actor="test")
        first_due = agreement.instalments[0].due_date
        agreement_id = agreement.id
    limit = pricing.DEFAULT_POLICY["break_after_days"]
    with db.session() as s:
        assert lifecycle.break_overdue(s, first_due + timedelta(days=limit)) == []  # still within the limit
    with db.session() as s:
        assert lifecycle.break_overdue(s, first_due + timedelta(days=limit + 1)) == [agreement_id]
    with db.session() as s:
        agreement = s.get_one(Agreement, agreement_id)
        assert agreement.status == AgreementStatus.BROKEN and agreement.broken_at is not None
        assert {i.status for i in agreement.instalments} == {InstalmentStatus.CANCELLED}
        assert {
            i.status
            for i in s.scalars(select(Invoice).where(Invoice.id.in_([i.id for i in agreement.invoices])))
        } == {InvoiceStatus.OPEN}


def test_disputed_invoices_are_not_renegotiated(db: Database, people: People) -> None:
    with db.session() as s:
        for invoice in s.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.OPEN)):
            invoice.pause_reason = "dispute"
        conversation = Conversation(channel=Channel.SMS, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        assert offers.make_offer(s, conversation, TODAY) is None


@pytest.mark.parametrize(("reference", "parsed"), [("A12P3", (12, 3)), ("a7p1", (7, 1)), ("F-12", None)])
def test_instalment_references(reference: str, parsed: tuple[int, int] | None) -> None:
    assert references.parse_instalment_reference(reference) == parsed
