"""The experiments' statistics match statsmodels on numbers worked out by hand here (Wilson intervals,
pooled two-proportion z-tests, Holm's correction, the sample size), and the readout counts each arm of a
step's experiment, holdout included, from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.analytics import Period, Windows
from bot.db import Database
from bot.experiments import (
    MIN_EACH,
    NOT_ENOUGH_DATA,
    ExperimentError,
    PlanError,
    matured,
    plan_sample,
    readout,
)
from bot.experiments.statistics import arm, compare, missing
from bot.models import Conversation, Creditor, Debtor, Direction, Invoice, Message, OutboxEntry
from tests.unit.experiment_data import EXPERIMENT_CADENCE, cpf

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
APRIL_20 = date(2026, 4, 20)  # every March contact has had its 7 days


# Worked out by hand (Wilson: centre (p + z²/2n) / (1 + z²/n), half-width z √(p(1-p)/n + z²/4n²) / (1 + z²/n),
# z = 1.959964; pooled z-test: (p1 - p0) / √(p(1-p)(1/n1 + 1/n0)) with p the pooled rate, p = 2(1 - Φ(|z|))).


def test_an_arm_has_the_wilson_interval_of_its_rate() -> None:
    result = arm("a", 1000, 120, 0.05)
    assert result.ci_low == pytest.approx(0.101299, abs=1e-6)
    assert result.ci_high == pytest.approx(0.141609, abs=1e-6)
    assert result.interval_label == "10,1 % a 14,2 %" and result.rate.label == "12,0 %"


def test_an_arm_without_contacts_has_no_interval() -> None:
    result = arm("b", 0, 0, 0.05)
    assert result.ci_low is None and result.interval_label == "sem dados"


def test_two_arms_are_compared_with_a_pooled_z_test_and_no_correction() -> None:
    arms = [arm("a", 1000, 100, 0.05, control=True), arm("b", 1000, 120, 0.05)]
    (comparison,), correction = compare(arms, 0.05)
    assert correction is None
    assert comparison.z == pytest.approx(1.429301, abs=1e-6)
    assert comparison.p_value == pytest.approx(0.152918, abs=1e-6)
    assert comparison.p_adjusted == comparison.p_value and not comparison.significant
    assert comparison.difference == pytest.approx(0.02)


def test_three_arms_correct_the_p_values_with_holm_so_a_lucky_arm_is_not_a_winner() -> None:
    arms = [
        arm("a", 1000, 100, 0.05, control=True),
        arm("b", 1000, 130, 0.05),
        arm("c", 1000, 125, 0.05),
    ]
    (b, c), correction = compare(arms, 0.05)
    assert correction == "holm"
    # Raw p-values 0.035488 and 0.076869: b alone would pass 0.05.
    assert b.p_value == pytest.approx(0.035488, abs=1e-6) and c.p_value == pytest.approx(0.076869, abs=1e-6)
    # Holm: the smallest times 2 (0.070977), the next max(that, itself times 1) (0.076869).
    assert b.p_adjusted == pytest.approx(0.070977, abs=1e-6)
    assert c.p_adjusted == pytest.approx(0.076869, abs=1e-6)
    assert not b.significant and not c.significant


def test_the_sample_size_follows_the_two_sample_formula() -> None:
    # n = 2 (z_0.975 + z_0.8)² / h², h = 2 asin √0.12 - 2 asin √0.10 = 0.063982: 2 × 7.848879 / 0.0040937.
    plan = plan_sample(0.10, 0.02)
    assert plan.per_arm == 3835 and plan.total == 7670
    # Three arms: two comparisons, each at alpha 0.025 (z_0.9875 = 2.241403): 4644 per arm.
    three = plan_sample(0.10, 0.02, arms=3)
    assert three.per_arm == 4644 and three.comparison_alpha == 0.025


@pytest.mark.parametrize(
    ("baseline", "effect", "arms"), [(0.0, 0.02, 2), (0.10, 0.0, 2), (0.95, 0.10, 2), (0.10, 0.02, 1)]
)
def test_a_plan_that_makes_no_sense_is_refused(baseline: float, effect: float, arms: int) -> None:
    with pytest.raises(PlanError):
        plan_sample(baseline, effect, arms=arms)


def test_the_rule_says_which_arm_has_not_reached_the_plan_or_has_too_few_payments() -> None:
    arms = [arm("a", 500, 60, 0.05, control=True), arm("b", 800, 95, 0.05)]
    assert missing(arms, 600) == ["a tem 500 de 600 contatos planejados"]
    few = [arm("a", 500, 60, 0.05, control=True), arm("b", 500, MIN_EACH - 1, 0.05)]
    assert missing(few, None) == [
        f"b tem 9 pagamento(s) em 500 contatos (são precisos pelo menos {MIN_EACH} com e 10 sem pagamento)"
    ]
    assert missing(arms, 500) == []


def test_only_days_whose_window_has_passed_are_read() -> None:
    assert matured(MARCH, Windows(attribution_days=7), date(2026, 3, 20)) == Period(
        date(2026, 3, 1), date(2026, 3, 12)
    )
    assert matured(MARCH, Windows(attribution_days=7), date(2026, 3, 5)) is None
    assert matured(MARCH, Windows(), APRIL_20) == MARCH


# --------------------------------------------------------------------------------------------------------
# The readout on the database
# --------------------------------------------------------------------------------------------------------


def _store(db: Database, paid: dict[str, int], n: int = 40) -> int:
    """The experiment creditor with `n` contacts per arm in March (a, b; holdout rows held out), of which
    `paid[arm]` paid 2 days after; in each arm one more invoice paid 9 days after (outside the window).
    Plus what no arm counts: a contact of the step carried by another step's message (no variant), a
    holdout row still waiting, and a contact of another step."""
    with db.session() as s:
        creditor = Creditor(legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC",
                            cadence_yaml=EXPERIMENT_CADENCE)  # fmt: skip
        s.add(creditor)
        s.flush()
        number = 0

        def row(variant: str | None, sent: datetime | None, paid_after: int | None, **kw: object) -> None:
            nonlocal number
            number += 1
            debtor = Debtor(name=f"Pessoa {number}", cpf=cpf(number), phone=f"+55119{number:08d}")
            s.add(debtor)
            s.flush()
            invoice = Invoice(creditor_id=creditor.id, debtor_id=debtor.id, external_ref=f"F{number}",
                              amount_cents=10000, due_date=date(2026, 2, 28))  # fmt: skip
            if paid_after is not None and sent is not None:
                invoice.status, invoice.paid_at = "paid", sent + timedelta(days=paid_after)
            s.add(invoice)
            s.flush()
            message_id = None
            if kw.pop("contact", True):
                conversation = Conversation(channel="sms", address=debtor.phone, debtor_id=debtor.id)
                s.add(conversation)
                s.flush()
                message = Message(conversation_id=conversation.id, direction=Direction.OUTBOUND,
                                  channel="sms", status="delivered", sent_at=sent)  # fmt: skip
                s.add(message)
                s.flush()
                message_id = message.id
            values = {"status": "sent", "step_id": "depois", **kw}
            s.add(OutboxEntry(invoice_id=invoice.id, debtor_id=debtor.id, creditor_id=creditor.id,
                              cadence="teste", variant=variant, send_on=date(2026, 3, 2), channel="sms",
                              message_id=message_id, sent_at=sent, **values))  # fmt: skip

        for name in ("a", "b", "holdout"):
            holdout = {"status": "skipped", "note": "holdout", "contact": False} if name == "holdout" else {}
            for i in range(n):
                sent = datetime(2026, 3, 2 + i % 20, 15, tzinfo=UTC)
                row(name, sent, 2 if i < paid[name] else None, **holdout)
            row(name, datetime(2026, 3, 3, 15, tzinfo=UTC), 9, **holdout)
        row(None, datetime(2026, 3, 4, 15, tzinfo=UTC), 1)  # carried by another step's message
        row("holdout", None, None, status="pending", contact=False)  # not yet held out
        row("a", datetime(2026, 3, 4, 15, tzinfo=UTC), 1, step_id="antes")  # another step
        return creditor.id


def test_the_readout_counts_each_arm_and_compares_it_with_the_control(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 21, "holdout": 11})
    with db.session() as s:
        result = readout(s, creditor_id, "depois", MARCH, today=APRIL_20)
    a, b, holdout = result.arms
    assert (a.id, a.n, a.conversions, a.is_control) == ("a", 41, 12, True)
    assert (b.id, b.n, b.conversions) == ("b", 41, 21)
    assert (holdout.id, holdout.n, holdout.conversions, holdout.is_holdout) == ("holdout", 41, 11, True)
    assert result.excluded == 1 and result.planned_per_arm == 40 and result.enough_data
    assert a.ci_low == pytest.approx(0.176092, abs=1e-6) and a.ci_high == pytest.approx(0.444795, abs=1e-6)
    # By hand: b 21/41 against a 12/41, pooled rate 33/82: z = 2.026723, p = 0.042691 (below 0.05 alone);
    # holdout 11/41 against a: z = -0.245820, p = 0.805822. Holm: 2 × 0.042691 = 0.085381, then 0.805822.
    cmp_b, cmp_holdout = result.comparisons
    assert result.correction == "holm"
    assert cmp_b.z == pytest.approx(2.026723, abs=1e-6) and cmp_b.p_value == pytest.approx(0.042691, abs=1e-6)
    assert cmp_b.p_adjusted == pytest.approx(0.085381, abs=1e-6) and not cmp_b.significant
    assert cmp_holdout.z == pytest.approx(-0.245820, abs=1e-6)
    assert cmp_holdout.p_adjusted == pytest.approx(0.805822, abs=1e-6)
    assert result.verdict.startswith("Nenhuma diferença significativa")


def test_a_clear_difference_is_called_significant(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 30, "holdout": 11})
    with db.session() as s:
        result = readout(s, creditor_id, "depois", MARCH, today=APRIL_20)
    assert [c.significant for c in result.comparisons] == [True, False]
    assert result.verdict.startswith("b: +43,9 p.p. em relação a a (p ajustado ")


def test_the_readout_says_there_is_not_enough_data_before_the_planned_sample(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 22, "holdout": 11})
    with db.session() as s:
        result = readout(s, creditor_id, "depois", MARCH, today=APRIL_20, planned_per_arm=100)
    assert not result.enough_data and result.comparisons == ()
    assert result.verdict == (
        f"{NOT_ENOUGH_DATA}: a tem 41 de 100 contatos planejados; b tem 41 de 100 contatos planejados; "
        "holdout tem 41 de 100 contatos planejados"
    )


def test_the_readout_says_there_is_not_enough_data_with_too_few_payments(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 22, "holdout": 4})
    with db.session() as s:
        result = readout(s, creditor_id, "depois", MARCH, today=APRIL_20)
    assert not result.enough_data
    assert result.reasons == (
        "holdout tem 4 pagamento(s) em 41 contatos (são precisos pelo menos 10 com e 10 sem pagamento)",
    )


def test_contacts_whose_window_is_still_open_are_left_out(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 22, "holdout": 11})
    with db.session() as s:
        early = readout(s, creditor_id, "depois", MARCH, today=date(2026, 3, 5))
        partial = readout(s, creditor_id, "depois", MARCH, today=date(2026, 3, 11))
    assert early.period is None
    assert early.verdict == f"{NOT_ENOUGH_DATA}: nenhum contato cuja janela de atribuição já terminou"
    assert [a.n for a in early.arms] == [0, 0, 0]
    # On 11 March, contacts up to 3 March have had their 7 days: two a day per arm, and the one paid late.
    assert partial.period == Period(date(2026, 3, 1), date(2026, 3, 3))
    assert [a.n for a in partial.arms] == [5, 5, 5]


def test_an_unknown_control_is_refused(db: Database) -> None:
    creditor_id = _store(db, {"a": 12, "b": 22, "holdout": 11}, n=2)
    with db.session() as s, pytest.raises(ExperimentError, match="o controle 'z' não é um braço"):
        readout(s, creditor_id, "depois", MARCH, today=APRIL_20, control="z")
