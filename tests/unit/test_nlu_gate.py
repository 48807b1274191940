"""The quality gate's rules on hand-built evaluations (each refusing on its own), its verdict on a
stored candidate, and a supervisor's override (roles, reason, audit)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models import AuditLog, CandidateStatus, NluModel, User, UserRole, utcnow
from bot.nlu_ops import gate
from bot.people.roles import NotAllowed, Permission, can
from tests.unit.conftest import run
from tests.unit.console_people import make_user


def _scores(macro_f1: float, recalls: dict[str, float]) -> dict:
    return {
        "macro_f1": macro_f1,
        "accuracy": macro_f1,
        "intents": {i: {"precision": 1.0, "recall": r, "f1": r, "support": 10} for i, r in recalls.items()},
    }


RECALLS = {"parar": 1.0, "contestar_divida": 0.9, "ja_paguei": 0.95, "falar_atendente": 1.0, "saudacao": 0.8}
GOOD = {
    "candidate_model": "regua-new.tar.gz",
    "current_model": "regua-old.tar.gz",
    "test_examples": 50,
    "candidate": _scores(0.93, RECALLS),
    "current": _scores(0.92, RECALLS),
    "regression": {"total": 2, "failures": []},
    "fallback": {"messages": 100, "recorded": 0.10, "candidate": 0.08},
    "changed": [],
}


def _with(**changes: object) -> dict:
    evaluation = copy.deepcopy(GOOD)
    for path, value in changes.items():
        node = evaluation
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return evaluation


def test_a_candidate_no_worse_on_every_rule_passes() -> None:
    passed, reasons = gate.judge(GOOD)
    assert passed and reasons[0].startswith("Aprovado: F1 macro 0,930 (atual 0,920)")


def test_a_macro_f1_drop_within_the_tolerance_passes() -> None:
    within = 0.92 - gate.MACRO_F1_TOLERANCE
    assert gate.judge(_with(candidate__macro_f1=within))[0]
    assert gate.judge(_with(candidate__macro_f1=0.919))[0]


def test_a_macro_f1_drop_beyond_the_tolerance_alone_is_refused() -> None:
    assert gate.MACRO_F1_TOLERANCE == 0.02  # the numbers below
    passed, reasons = gate.judge(_with(candidate__macro_f1=0.899))
    assert not passed and reasons == ["O F1 macro caiu de 0,920 para 0,899 (mais que a tolerância de 0,020)."]


def test_a_candidate_that_breaks_parar_is_refused() -> None:
    passed, reasons = gate.judge(_with(candidate__intents__parar__recall=0.6))
    assert not passed and reasons == ["A intenção crítica parar perdeu recall: de 100,0% para 60,0%."]


@pytest.mark.parametrize("intent", ["contestar_divida", "ja_paguei", "falar_atendente"])
def test_each_critical_intent_losing_recall_is_refused(intent: str) -> None:
    passed, reasons = gate.judge(_with(**{f"candidate__intents__{intent}__recall": 0.5}))
    assert not passed and len(reasons) == 1 and intent in reasons[0]


def test_a_critical_intent_missing_from_the_candidate_counts_as_no_recall() -> None:
    evaluation = copy.deepcopy(GOOD)
    del evaluation["candidate"]["intents"]["falar_atendente"]
    passed, reasons = gate.judge(evaluation)
    assert not passed and "falar_atendente" in reasons[0]


def test_an_ordinary_intent_losing_recall_is_not_a_refusal_by_itself() -> None:
    assert gate.judge(_with(candidate__intents__saudacao__recall=0.1))[0]


def test_a_corrected_message_predicted_wrong_alone_is_refused() -> None:
    failure = {"text": "nao devo isso", "expected": "contestar_divida", "predicted": "negar"}
    passed, reasons = gate.judge(_with(regression__failures=[failure]))
    assert not passed and reasons == [
        "Regressão: 1 de 2 mensagens corrigidas saíram erradas "
        "(“nao devo isso” saiu negar (corrigida para contestar_divida))."
    ]


def test_a_higher_fallback_rate_on_recent_messages_alone_is_refused() -> None:
    passed, reasons = gate.judge(_with(fallback__candidate=0.11))
    assert not passed and reasons == [
        "A taxa de fallback nas 100 mensagens recentes subiria de 10,0% para 11,0%."
    ]


def test_every_failing_rule_is_listed() -> None:
    evaluation = _with(
        candidate__macro_f1=0.5, fallback__candidate=0.5, candidate__intents__parar__recall=0.0
    )
    assert len(gate.judge(evaluation)[1]) == 3


def test_without_a_current_model_only_the_absolute_rules_apply() -> None:
    assert gate.judge(_with(current=None, candidate__macro_f1=0.1))[0]
    assert not gate.judge(_with(current=None, fallback__candidate=0.9))[0]
    assert gate.judge({"candidate": None}) == (False, ["O candidato não foi avaliado."])


def test_only_supervisors_and_admins_may_override_the_gate() -> None:
    allowed = {role for role in UserRole if can(User(role=role, active=True), Permission.OVERRIDE_GATE)}
    assert allowed == {UserRole.SUPERVISOR, UserRole.ADMIN}


def _ready(db: Database, evaluation: dict) -> str:
    with db.session() as s:
        now = utcnow()
        row = NluModel(
            model_file="regua-abc-1.tar.gz",
            fingerprint="abc",
            status=CandidateStatus.READY,
            requested_via="cli",
            started_at=now,
            heartbeat_at=now,
            progress="done",
            evaluation=evaluation,
        )
        s.add(row)
        return row.model_file


def test_a_supervisor_overrides_a_refusal_with_a_reason_and_it_is_audited(db: Database) -> None:
    name = _ready(db, _with(candidate__intents__parar__recall=0.5))
    make_user(db, "supervisor", "sup@regua.example")
    with db.session() as s:
        assert not gate.verdict(s, name).passed
        sup = s.scalar(select(User))
        with pytest.raises(gate.GateError, match="Escreva o motivo"):
            gate.override(s, name, sup, "   ok  ")
        result = gate.override(s, name, sup, "Exemplos de parar ambíguos; revisados à mão.")
    assert result.passed and result.overridden
    assert result.reasons[-1].endswith("Exemplos de parar ambíguos; revisados à mão.")
    with db.session() as s:
        row = s.scalar(select(NluModel))
        assert row.gate_passed is False and row.overridden_by_user_id is not None
        audit = s.scalar(select(AuditLog).where(AuditLog.action == "nlu.gate_overridden"))
        assert audit.details["model"] == name and audit.details["refusals"] == 1
        assert gate.verdict(s, name).overridden


def test_ops_cannot_override_and_a_passing_candidate_needs_no_override(db: Database) -> None:
    name = _ready(db, GOOD)
    make_user(db, "ops", "ops@regua.example")
    make_user(db, "admin", "adm@regua.example", name="Adm")
    with db.session() as s:
        ops = s.scalar(select(User).where(User.email == "ops@regua.example"))
        admin = s.scalar(select(User).where(User.email == "adm@regua.example"))
        with pytest.raises(NotAllowed):
            gate.override(s, name, ops, "quero liberar este modelo")
        with pytest.raises(gate.GateError, match="já passou"):
            gate.override(s, name, admin, "quero liberar este modelo")
        with pytest.raises(gate.GateError, match="não encontrado"):
            gate.verdict(s, "regua-nenhum.tar.gz")


def test_regua_nlu_promote_refuses_a_candidate_the_gate_refused_and_says_why(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    model_file = _ready(db, _with(candidate__intents__parar__recall=0.5))
    refused = run("nlu", "promote", str(tmp_path / model_file))
    assert refused.exit_code != 0
    assert "portão de qualidade recusou" in refused.output and "parar" in refused.output
    unknown = run("nlu", "promote", str(tmp_path / "regua-unknown.tar.gz"))
    assert unknown.exit_code != 0 and "não encontrado" in unknown.output
