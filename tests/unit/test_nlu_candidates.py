"""Candidate NLU models (issue 17 §4): the registry's state machine, the background job (with a stand-in
Rasa, tests/unit/fake_rasa.py), a killed job, and the regression set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models import AuditLog, CandidateStatus, NluModel, User, utcnow
from bot.nlu_ops import candidates, evaluation, gate, review, trainer
from bot.rasa import training
from tests.unit.candidate_env import CandidateEnv, run_job
from tests.unit.console_people import make_user
from tests.unit.nlu_messages import conversation, predicted


def _start(db: Database) -> int:
    with db.session() as s:
        return candidates.start(s, None, via="cli").id


def _row(db: Database, candidate_id: int) -> NluModel:
    with db.session() as s:
        row = s.get(NluModel, candidate_id)
        s.expunge(row)
        return row


def test_only_one_candidate_trains_at_a_time_and_a_second_request_says_so(
    candidate_env: CandidateEnv, db: Database
) -> None:
    first = _start(db)
    with db.session() as s, pytest.raises(candidates.AlreadyTraining, match="Já há um modelo sendo treinado"):
        candidates.start(s, None)
    with db.session() as s:
        assert candidates.fail(s, first, "teste")
    assert _start(db) != first  # once the first is over, a new one may start


def test_a_candidate_whose_heartbeat_stopped_is_failed_by_the_sweep_and_only_then(
    candidate_env: CandidateEnv, db: Database
) -> None:
    candidate = _start(db)
    with db.session() as s:
        assert candidates.expire_stale(s) == 0
        assert candidates.expire_stale(s, now=utcnow() + candidates.LEASE + timedelta(seconds=1)) == 1
    row = _row(db, candidate)
    assert row.status == CandidateStatus.FAILED and row.error == candidates.STALE_REASON
    with db.session() as s, pytest.raises(candidates.CandidateGone):
        candidates.beat(s, candidate, "training")  # the dead job cannot bring it back
    assert _row(db, candidate).status == CandidateStatus.FAILED


def test_a_job_trains_into_the_candidates_dir_evaluates_and_ends_ready(
    candidate_env: CandidateEnv, db: Database
) -> None:
    candidate = _start(db)
    served_before = sorted(p.name for p in candidate_env.models_dir.iterdir())
    assert run_job(db, candidate_env, candidate)
    row = _row(db, candidate)
    assert row.status == CandidateStatus.READY and row.progress == "done" and row.finished_at is not None
    model = candidate_env.candidates_dir / row.model_file
    assert model.exists() and sorted(p.name for p in candidate_env.models_dir.iterdir()) == served_before
    trained_on = set(json.loads(model.read_text())["texts"])
    held_out = {t for texts in training.split_examples(candidate_env.data_dir).values() for t in texts}
    assert held_out and not trained_on & held_out  # the frozen test split is never trained on
    result = row.evaluation
    assert result["current_model"] == "regua-current.tar.gz" and result["test_examples"] == len(held_out)
    assert result["candidate"]["macro_f1"] == 1.0 and result["confusion_matrix"]
    assert not (candidates.artefacts_dir(row) / "train-data").exists()


def test_a_rasa_failure_ends_the_candidate_failed_with_a_plain_reason_and_no_file(
    candidate_env: CandidateEnv, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_FAIL", "1")
    candidate = _start(db)
    assert not run_job(db, candidate_env, candidate)
    row = _row(db, candidate)
    assert row.status == CandidateStatus.FAILED and row.error.startswith("O Rasa falhou")
    assert not (candidate_env.candidates_dir / row.model_file).exists()


def test_the_rq_failure_callback_fails_the_candidate(candidate_env: CandidateEnv, db: Database) -> None:
    class Job:
        args = (_start(db),)

    trainer.job_failed(Job(), None, TimeoutError, TimeoutError(), None)
    assert _row(db, Job.args[0]).status == CandidateStatus.FAILED


def test_a_training_job_killed_mid_way_leaves_a_candidate_the_sweep_fails(
    candidate_env: CandidateEnv, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _start(db)
    monkeypatch.setenv("FAKE_RASA_SLEEP", "120")
    code = (
        "from bot.config import get_settings; from bot.db import Database; from bot.nlu_ops import trainer; "
        f"trainer.run(Database(get_settings().effective_database_url), {candidate}, "
        f"data_dir=__import__('pathlib').Path({str(candidate_env.data_dir)!r}))"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", code], cwd=training.PROJECT_ROOT, env=dict(os.environ), start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while _row(db, candidate).progress != "training":
            assert time.monotonic() < deadline and job.poll() is None, "the job never reached training"
            time.sleep(0.2)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the job and the Rasa it started, with no chance to clean up
        job.wait()
    assert _row(db, candidate).status == CandidateStatus.TRAINING  # nobody said anything...
    with db.session() as s:
        assert candidates.expire_stale(s, now=utcnow() + candidates.LEASE + timedelta(seconds=1)) == 1
    assert _row(db, candidate).status == CandidateStatus.FAILED  # ...the sweep did
    assert _start(db)  # and a new training may start


def test_a_candidate_that_breaks_parar_is_refused_by_the_gate(
    candidate_env: CandidateEnv, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_BREAK", "parar")
    candidate = _start(db)
    assert run_job(db, candidate_env, candidate)
    row = _row(db, candidate)
    with db.session() as s:
        verdict = gate.verdict(s, row.model_file)
    assert not verdict.passed
    assert any("parar perdeu recall" in r for r in verdict.reasons)
    assert any("F1 macro caiu" in r for r in verdict.reasons)
    changed = row.evaluation["changed"]
    assert (
        changed
        and {c["current"] for c in changed} == {"parar"}
        and {c["candidate"] for c in changed} == {"negar"}
    )


def test_corrected_messages_are_the_regression_set_masked_with_their_latest_label(db: Database) -> None:
    make_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    _, relabelled = predicted(db, c, "meu cpf 123.456.789-09 nao devo isso", "afirmar", 0.5)
    _, confirmed = predicted(db, c, "quero parar", "parar", 0.5)
    _, out_of_scope = predicted(db, c, "qual o clima hoje", "saudacao", 0.5)
    _, discarded = predicted(db, c, "kkk", "afirmar", 0.5)
    with db.session() as s:
        ops = s.scalar(select(User))
        review.relabel(
            s, [relabelled], "contestar_divida", ops, intents=["contestar_divida", "fora_de_escopo"]
        )
        review.confirm(s, [confirmed], ops)
        review.relabel(s, [out_of_scope], "fora_de_escopo", ops, intents=["fora_de_escopo"])
        review.discard(s, [discarded], ops)
    with db.session() as s:
        found = evaluation.regression_set(s)
    assert found == {"meu cpf <cpf> nao devo isso": "contestar_divida", "qual o clima hoje": "fora_de_escopo"}


def test_recent_messages_are_those_of_the_last_days_masked_with_their_recorded_intent(db: Database) -> None:
    c = conversation(db)
    predicted(db, c, "paguei R$ 150,00 ontem", "ja_paguei", 0.9)
    predicted(db, c, "asdfgh", "nlu_fallback", 0.2)
    predicted(db, c, "mensagem antiga", "saudacao", 0.9, at=utcnow() - timedelta(days=30))
    with db.session() as s:
        assert evaluation.recent_messages(s) == {
            "paguei <valor> ontem": "ja_paguei",
            "asdfgh": "nlu_fallback",
        }


def test_asking_for_a_training_is_audited(candidate_env: CandidateEnv, db: Database) -> None:
    candidate = _start(db)
    with db.session() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "nlu.candidate_requested"))
        assert row.actor == "cli" and row.entity_id == str(candidate)


def test_verdicts_on_a_candidate_not_ready_say_why(candidate_env: CandidateEnv, db: Database) -> None:
    candidate = _start(db)
    name = _row(db, candidate).model_file
    with db.session() as s:
        assert gate.verdict(s, name).reasons == ["O candidato ainda está em treinamento."]
        candidates.fail(s, candidate, "O Rasa falhou.")
    with db.session() as s:
        assert gate.verdict(s, name).reasons == ["O treinamento falhou: O Rasa falhou."]


def test_a_job_the_sweep_gave_up_on_stops_its_rasa_at_the_next_heartbeat(
    candidate_env: CandidateEnv, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_SLEEP", "60")
    monkeypatch.setattr(training, "HEARTBEAT_SECONDS", 0.2)
    candidate = _start(db)
    outcome: list[bool] = []
    job = threading.Thread(target=lambda: outcome.append(run_job(db, candidate_env, candidate)))
    started = time.monotonic()
    job.start()
    while _row(db, candidate).progress != "training":
        assert time.monotonic() - started < 30 and job.is_alive(), "the job never reached training"
        time.sleep(0.1)
    with db.session() as s:
        candidates.fail(s, candidate, candidates.STALE_REASON)  # what the sweep does to a silent job
    job.join(timeout=30)
    assert outcome == [False] and time.monotonic() - started < 30  # Rasa (sleeping 60 s) was stopped
    row = _row(db, candidate)
    assert row.status == CandidateStatus.FAILED and row.error == candidates.STALE_REASON
    assert not (candidate_env.candidates_dir / row.model_file).exists()
