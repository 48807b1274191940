"""A step's experiment in the régua: a debtor always lands in the same arm, the holdout is declared and
validated in the cadence, recorded by the planner, and held out by the dispatcher only where a message
could have gone (every rule still applies); it costs nothing in the preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select, update

from bot import optout
from bot.config import Settings
from bot.db import Database
from bot.models import Channel, Creditor, Debtor, Invoice, OptOutAction, OutboxEntry, OutboxStatus, utcnow
from bot.reminders import dispatch, planner, preview
from bot.reminders.cadence import CadenceError, assignment_key, in_holdout, load_cadence, pick_variant
from tests.unit.conftest import FakeSender
from tests.unit.experiment_data import EXPERIMENT_CADENCE, cpf

BRT = ZoneInfo("America/Sao_Paulo")
DUE = date(2026, 12, 10)  # a Thursday: the D+1 step is on Friday 11 December
STEP_DAY = datetime(2026, 12, 11, 10, tzinfo=BRT)
DEBTORS = 30


@pytest.fixture
def experiment(db: Database) -> dict[str, int]:
    """The experiment creditor and DEBTORS debtors in São Paulo, each with one invoice due on DUE (the
    first has a second one: a debtor keeps its arm for every invoice)."""
    with db.session() as s:
        creditor = Creditor(legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC",
                            cadence_yaml=EXPERIMENT_CADENCE)  # fmt: skip
        s.add(creditor)
        for n in range(1, DEBTORS + 1):
            debtor = Debtor(name=f"Pessoa {n}", cpf=cpf(n), phone=f"+551198765{n:04d}", state="SP",
                            timezone="America/Sao_Paulo")  # fmt: skip
            s.add(debtor)
            s.add(
                Invoice(
                    creditor=creditor, debtor=debtor, external_ref=f"F{n}", amount_cents=10000, due_date=DUE
                )
            )
            if n == 1:
                s.add(
                    Invoice(
                        creditor=creditor, debtor=debtor, external_ref="F1-2", amount_cents=5000, due_date=DUE
                    )
                )
        s.flush()
        return {"creditor": creditor.id}


def _plan(db: Database, when: datetime) -> None:
    with time_machine.travel(when, tick=False), db.session() as s:
        planner.plan(s, when.astimezone(BRT).date())


def _dispatch(db: Database, settings: Settings, sender: FakeSender, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        while dispatch.dispatch_batch(db, settings, sender, now=utcnow()).claimed:
            pass


def _rows(db: Database) -> list[OutboxEntry]:
    with db.session() as s:
        rows = list(
            s.scalars(select(OutboxEntry).where(OutboxEntry.step_id == "depois").order_by(OutboxEntry.id))
        )
        s.expunge_all()
    return rows


def _step():  # type: ignore[no-untyped-def]
    return load_cadence(EXPERIMENT_CADENCE).step("depois")


def test_the_planner_records_the_holdout_of_the_debtors_drawn_for_it(
    db: Database, experiment: dict[str, int]
) -> None:
    _plan(db, STEP_DAY)
    step = _step()
    rows = _rows(db)
    held = {row.debtor_id for row in rows if row.variant == "holdout"}
    assert held == {row.debtor_id for row in rows if in_holdout(step, row.debtor_id)}
    assert 0 < len(held) < DEBTORS  # 20 % of 30 debtors: some, not all
    assert all(row.variant is None for row in rows if row.debtor_id not in held)  # drawn when composed
    _plan(db, STEP_DAY + timedelta(minutes=1))  # planning again changes nothing
    assert [(r.id, r.variant) for r in _rows(db)] == [(r.id, r.variant) for r in rows]


def test_a_holdout_debtor_gets_nothing_and_the_moment_is_recorded(
    db: Database, settings: Settings, experiment: dict[str, int]
) -> None:
    _plan(db, STEP_DAY)
    sender = FakeSender()
    _dispatch(db, settings, sender, STEP_DAY)
    rows = _rows(db)
    with db.session() as s:
        phones = {d.id: d.phone for d in s.scalars(select(Debtor))}
    reached = {request.to for request in sender.sent}
    step = _step()
    for row in rows:
        if in_holdout(step, row.debtor_id):
            assert (row.status, row.note, row.variant, row.message_id) == (
                OutboxStatus.SKIPPED,
                "holdout",
                "holdout",
                None,
            )
            assert row.sent_at == STEP_DAY.astimezone(UTC)
            assert phones[row.debtor_id] not in reached
        else:
            assert row.status == OutboxStatus.SENT and phones[row.debtor_id] in reached
            # Sticky: the debtor's own draw, for each of its invoices (debtor 1 has two).
            assert row.variant == pick_variant(step, assignment_key(row.debtor_id, step)).id  # type: ignore[union-attr]
    assert {row.variant for row in rows} == {"a", "b", "holdout"}


def test_a_debtor_keeps_its_arm_for_an_invoice_reminded_on_another_day(
    db: Database, settings: Settings, experiment: dict[str, int]
) -> None:
    step = _step()
    with db.session() as s:
        debtors = [d for d in s.scalars(select(Debtor).order_by(Debtor.id)) if not in_holdout(step, d.id)][:6]
        creditor = s.get_one(Creditor, experiment["creditor"])
        for debtor in debtors:  # due a day later: its D+1 is on Saturday 12 December
            s.add(Invoice(creditor=creditor, debtor=debtor, external_ref=f"L{debtor.id}", amount_cents=9000,
                          due_date=DUE + timedelta(days=1)))  # fmt: skip
        wanted = {d.id for d in debtors}
    for day in (STEP_DAY, STEP_DAY + timedelta(days=1)):
        _plan(db, day)
        _dispatch(db, settings, FakeSender(), day)
    arms: dict[int, set[str | None]] = {}
    for row in _rows(db):
        if row.debtor_id in wanted:
            assert row.status == OutboxStatus.SENT
            arms.setdefault(row.debtor_id, set()).add(row.variant)
    assert len(arms) == 6 and all(len(variants) == 1 for variants in arms.values())
    assert {v for variants in arms.values() for v in variants} <= {"a", "b"}


def test_a_holdout_debtor_is_protected_by_every_rule_before_being_counted(
    db: Database, settings: Settings, experiment: dict[str, int]
) -> None:
    _plan(db, STEP_DAY)
    held = [row for row in _rows(db) if row.variant == "holdout"]
    assert len(held) >= 2
    paid, opted_out = held[0], held[1]
    with db.session() as s:
        s.execute(
            update(Invoice).where(Invoice.id == paid.invoice_id).values(status="paid", paid_at=utcnow())
        )
        debtor = s.get_one(Debtor, opted_out.debtor_id)
        optout.record(s, channel=Channel.SMS, address=debtor.phone, action=OptOutAction.OPT_OUT,
                      source="test", debtor=debtor)  # fmt: skip
    # Before the window opens (07:00) the other holdout rows wait like any row: nothing is recorded yet.
    _dispatch(db, settings, FakeSender(), STEP_DAY.replace(hour=7))
    waiting = [r for r in _rows(db) if r.variant == "holdout" and r.id not in (paid.id, opted_out.id)]
    assert waiting and all(r.sent_at is None and r.status == OutboxStatus.PENDING for r in waiting)
    _dispatch(db, settings, FakeSender(), STEP_DAY)
    by_id = {row.id: row for row in _rows(db)}
    assert (by_id[paid.id].note, by_id[paid.id].sent_at) == ("not_open", None)  # paid meanwhile
    assert by_id[opted_out.id].note == "no_channel" and by_id[opted_out.id].sent_at is None
    assert all(by_id[r.id].note == "holdout" and by_id[r.id].sent_at is not None for r in waiting)


def test_once_the_holdout_is_removed_its_waiting_rows_are_sent_as_usual(
    db: Database, settings: Settings, experiment: dict[str, int]
) -> None:
    _plan(db, STEP_DAY)
    without = EXPERIMENT_CADENCE.replace("    holdout: 20\n", "")
    with db.session() as s:
        s.execute(update(Creditor).values(cadence_yaml=without))
    sender = FakeSender()
    _dispatch(db, settings, sender, STEP_DAY)
    rows = _rows(db)
    assert all(row.status == OutboxStatus.SENT and row.variant in ("a", "b") for row in rows)
    assert len(sender.sent) == DEBTORS


def test_the_preview_counts_the_holdout_apart_at_no_cost(
    db: Database, settings: Settings, experiment: dict[str, int]
) -> None:
    with db.session() as s:
        result = preview.preview(s, settings, date(2026, 12, 11))
    step = _step()
    lines = {row.variant: row for row in result.rows if row.step_id == "depois"}
    held = sum(in_holdout(step, n) for n in _debtor_ids_of_invoices(db))
    assert lines["holdout"].count == held and lines["holdout"].cost_cents == 0
    assert lines["a"].count + lines["b"].count + held == DEBTORS + 1


def _debtor_ids_of_invoices(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(Invoice.debtor_id)))


# --------------------------------------------------------------------------------------------------------
# The cadence declares the experiment
# --------------------------------------------------------------------------------------------------------


def test_a_step_declares_its_holdout_and_planned_sample() -> None:
    step = _step()
    assert (step.holdout, step.sample_size, step.is_experiment) == (20, 40, True)
    assert not load_cadence(EXPERIMENT_CADENCE).step("antes").is_experiment


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("holdout: 20", "holdout: 51", "step 'depois': holdout must be between 0 and 50, got 51"),
        ("holdout: 20", "holdout: dez", "step 'depois': holdout must be a whole number"),
        ("sample_size: 40", "sample_size: 0", "step 'depois': sample_size must be between 1 and 10000000"),
        ("{id: a, weight: 50}", "{id: holdout, weight: 50}", "variant 'holdout': id 'holdout' is reserved"),
    ],
)
def test_an_invalid_experiment_is_refused(old: str, new: str, fragment: str) -> None:
    with pytest.raises(CadenceError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_cadence(EXPERIMENT_CADENCE.replace(old, new, 1), label="teste.yml")


def test_a_planned_sample_needs_an_experiment() -> None:
    text = EXPERIMENT_CADENCE.replace("    tone: amigavel\n", "    tone: amigavel\n    sample_size: 100\n")
    with pytest.raises(CadenceError, match="step 'antes': sample_size is set but the step has no experiment"):
        load_cadence(text)


def test_the_holdout_draw_is_the_documented_share_and_independent_of_the_variant() -> None:
    step = _step()
    held = [n for n in range(10_000) if in_holdout(step, n)]
    assert 1900 < len(held) < 2100
    # Among the debtors outside the holdout, the variants keep their 50/50 split.
    outside = [pick_variant(step, assignment_key(n, step)).id for n in range(10_000) if n not in set(held)]  # type: ignore[union-attr]
    assert 0.47 < outside.count("a") / len(outside) < 0.53
