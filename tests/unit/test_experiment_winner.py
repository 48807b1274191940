"""Declaring an experiment's winner rewrites the creditor's cadence (validated as any cadence, audited), or
refuses and writes nothing; and `regua experiment plan|readout|declare` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.experiments import WINNER_DECLARED, ExperimentError, declare_winner, experiment_steps
from bot.models import AuditLog, Creditor
from bot.reminders import cadence_schema
from bot.reminders.cadence import DEFAULT_CADENCE_FILE, load_cadence
from bot.reminders.planner import cadence_for
from tests.unit.conftest import run
from tests.unit.experiment_data import EXPERIMENT_CADENCE, SMS_A, SMS_B

CNPJ = "11222333000181"


@pytest.fixture
def creditor_id(db: Database) -> int:
    with db.session() as s:
        creditor = Creditor(legal_name="Loja Exemplo Ltda", cnpj=CNPJ, contact_channel="SAC",
                            cadence_yaml=EXPERIMENT_CADENCE)  # fmt: skip
        s.add(creditor)
        s.flush()
        return creditor.id


def _stored(db: Database, creditor_id: int) -> tuple[str | None, list[AuditLog]]:
    with db.session() as s:
        text = s.get_one(Creditor, creditor_id).cadence_yaml
        audits = list(s.scalars(select(AuditLog).where(AuditLog.action == WINNER_DECLARED)))
        s.expunge_all()
    return text, audits


def test_the_winner_becomes_the_steps_only_content_and_is_audited(db: Database, creditor_id: int) -> None:
    with db.session() as s:
        cadence = declare_winner(s, creditor_id, "depois", "b", actor="supervisor@loja")
    text, audits = _stored(db, creditor_id)
    assert text is not None
    step = load_cadence(text).step("depois")
    assert (step.sms, step.variants, step.holdout, step.sample_size) == (SMS_B, (), 0, None)
    assert cadence.step("depois") == step and cadence.step("antes").sms == SMS_A  # the rest is untouched
    assert "# The experiment: b's firmer wording" in text  # the creditor's comments are kept
    (audit,) = audits
    assert (audit.actor, audit.entity_type, audit.entity_id) == (
        "supervisor@loja",
        "creditor",
        str(creditor_id),
    )
    assert audit.details == {"step": "depois", "variant": "b", "cadence": "teste", "had_holdout": 20}


def test_the_steps_running_an_experiment_are_listed_until_a_winner_is_declared(
    db: Database, creditor_id: int
) -> None:
    with db.session() as s:
        assert [step.id for step in experiment_steps(s, creditor_id)] == ["depois"]
        declare_winner(s, creditor_id, "depois", "a", actor="cli")
    with db.session() as s:
        assert experiment_steps(s, creditor_id) == []


def test_a_step_with_only_a_holdout_keeps_its_message(db: Database, creditor_id: int) -> None:
    only_holdout = EXPERIMENT_CADENCE.split("    variants:")[0]
    with db.session() as s:
        s.get_one(Creditor, creditor_id).cadence_yaml = only_holdout
    with db.session() as s:
        declare_winner(s, creditor_id, "depois", None, actor="cli")
    text, _ = _stored(db, creditor_id)
    assert text is not None and load_cadence(text).step("depois").holdout == 0


def test_a_creditor_on_the_default_cadence_gets_its_own_with_the_winner(
    db: Database, creditor_id: int
) -> None:
    with db.session() as s:
        s.get_one(Creditor, creditor_id).cadence_yaml = None
    default = load_cadence(DEFAULT_CADENCE_FILE)
    step = next(step for step in default.steps if step.variants)
    loser, winner = step.variants[0], step.variants[-1]
    with db.session() as s:
        declare_winner(s, creditor_id, step.id, winner.id, actor="cli")
    text, _ = _stored(db, creditor_id)
    assert text is not None
    mine = load_cadence(text).step(step.id)
    assert mine.variants == () and mine.sms == step.sms_for(winner) and loser.id != winner.id


@pytest.mark.parametrize(
    ("step_id", "variant_id", "fragment"),
    [
        ("depois", "z", "a etapa 'depois' não tem a variante 'z'"),
        ("depois", "holdout", "o holdout não pode vencer"),
        ("depois", None, "informe a variante vencedora (a, b)"),
        ("antes", "a", "a etapa 'antes' não tem experimento"),
        ("sumiu", "a", "a régua do credor não tem a etapa 'sumiu'"),
    ],
)
def test_a_winner_that_cannot_be_declared_is_refused_and_nothing_is_written(
    db: Database, creditor_id: int, step_id: str, variant_id: str | None, fragment: str
) -> None:
    with db.session() as s, pytest.raises(ExperimentError) as caught:
        declare_winner(s, creditor_id, step_id, variant_id, actor="cli")
    assert fragment in str(caught.value)
    assert _stored(db, creditor_id) == (EXPERIMENT_CADENCE, [])


def test_a_result_the_cadence_rules_refuse_is_not_written(
    db: Database, creditor_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as s:  # the cadence in use was read under the rules of its day...
        cadence_for(s.get_one(Creditor, creditor_id))
    monkeypatch.setattr(cadence_schema, "SMS_MAX_CHARS", 100)  # ...and SMS texts are shorter today
    with (
        db.session() as s,
        pytest.raises(ExperimentError, match="a régua resultante é inválida, nada foi gravado"),
    ):
        declare_winner(s, creditor_id, "depois", "b", actor="cli")
    assert _stored(db, creditor_id) == (EXPERIMENT_CADENCE, [])


# --------------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------------


def test_the_plan_command_prints_the_contacts_per_arm() -> None:
    result = run("experiment", "plan", "--baseline", "10", "--mde", "2")
    assert result.exit_code == 0
    assert (
        "Para detectar 2 p.p. sobre 10 % (alfa 0,05, poder 0,8, 2 braços): 3835 contatos por braço"
        in result.output
    )
    assert "sample_size: 3835" in result.output


def test_the_plan_command_refuses_a_rate_outside_zero_to_one_hundred() -> None:
    result = run("experiment", "plan", "--baseline", "0", "--mde", "2")
    assert result.exit_code != 0 and "a taxa de base deve estar entre 0 % e 100 %" in result.output


def test_the_readout_command_says_plainly_when_there_is_not_enough_data(
    cli_env: Path, creditor_id: int
) -> None:
    result = run(
        "experiment",
        "readout",
        "--creditor",
        CNPJ,
        "--step",
        "depois",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    )
    assert result.exit_code == 0, result.output
    assert "ainda não há dados suficientes: a tem 0 de 40 contatos planejados" in result.output


def test_the_declare_command_writes_the_winner(cli_env: Path, db: Database, creditor_id: int) -> None:
    result = run("experiment", "declare", "--creditor", CNPJ, "--step", "depois", "--variant", "b", "--yes")
    assert result.exit_code == 0, result.output
    assert "Régua 'teste' gravada: a etapa depois envia só b, sem holdout." in result.output
    text, audits = _stored(db, creditor_id)
    assert text is not None and load_cadence(text).step("depois").sms == SMS_B and len(audits) == 1
