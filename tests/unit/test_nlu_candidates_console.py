"""Candidate models from the console (/console/nlu/modelos) and the terminal (`regua nlu candidate`), over
the real services, database and Redis queue (Rasa is tests/unit/fake_rasa.py)."""

from __future__ import annotations

import pytest
import redis
from flask import Flask
from rq import Queue
from sqlalchemy import select

from bot.db import Database
from bot.models import CandidateStatus, NluModel
from bot.nlu_ops import candidates, trainer
from tests.unit.candidate_env import CandidateEnv, run_job
from tests.unit.conftest import run
from tests.unit.console_people import form_field, log_in, make_user


def _trained(db: Database, candidate_env: CandidateEnv) -> NluModel:
    with db.session() as s:
        candidate_id = candidates.start(s, None, via="cli").id
    assert run_job(db, candidate_env, candidate_id)
    with db.session() as s:
        row = s.get(NluModel, candidate_id)
        s.expunge(row)
        return row


def test_ops_ask_for_a_candidate_and_its_training_is_queued_for_the_nlu_worker(
    app: Flask, db: Database, candidate_env: CandidateEnv, redis_conn: redis.Redis
) -> None:
    make_user(db, "ops", "ops@regua.example")
    client = app.test_client()
    log_in(client, "ops@regua.example")
    html = client.get("/console/nlu/modelos/").get_data(as_text=True)
    assert 'data-testid="no-candidates"' in html
    token = form_field(html, "csrf_token")
    assert client.post("/console/nlu/modelos/treinar", data={"csrf_token": token}).status_code == 302
    jobs = Queue(trainer.QUEUE, connection=redis_conn).jobs
    with db.session() as s:
        row = s.scalar(select(NluModel))
        assert row.status == CandidateStatus.TRAINING and row.requested_via == "console"
    assert [(j.func_name, j.args) for j in jobs] == [(trainer.TRAIN_JOB, (row.id,))]
    html = client.get("/console/nlu/modelos/").get_data(as_text=True)
    assert "treinando: na fila" in html and 'http-equiv="refresh"' in html

    client.post("/console/nlu/modelos/treinar", data={"csrf_token": token})
    html = client.get("/console/nlu/modelos/").get_data(as_text=True)
    assert (
        "Já há um modelo sendo treinado" in html
        and len(Queue(trainer.QUEUE, connection=redis_conn).jobs) == 1
    )


def test_the_page_shows_metrics_the_confusion_matrix_changes_and_the_gate_and_a_supervisor_overrides(
    app: Flask, db: Database, candidate_env: CandidateEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_BREAK", "parar")
    row = _trained(db, candidate_env)
    make_user(db, "ops", "ops@regua.example")
    make_user(db, "supervisor", "sup@regua.example", name="Sup")
    ops = app.test_client()
    log_in(ops, "ops@regua.example")
    html = ops.get(f"/console/nlu/modelos/?modelo={row.id}").get_data(as_text=True)
    assert 'data-testid="gate-verdict">recusado' in html and "parar perdeu recall" in html
    assert 'data-testid="metrics"' in html and 'data-testid="changed"' in html
    assert 'data-testid="override-form"' not in html  # ops may not override
    image = ops.get(f"/console/nlu/modelos/{row.id}/matriz.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert (
        ops.post(
            f"/console/nlu/modelos/{row.id}/liberar",
            data={"csrf_token": form_field(html, "csrf_token"), "reason": "quero liberar sem ser supervisor"},
        ).status_code
        == 302
    )
    with db.session() as s:
        assert s.get(NluModel, row.id).override_reason is None

    sup = app.test_client()
    log_in(sup, "sup@regua.example")
    html = sup.get(f"/console/nlu/modelos/?modelo={row.id}").get_data(as_text=True)
    form = {"csrf_token": form_field(html, "csrf_token"), "reason": "Parar revisado à mão; liberar."}
    assert sup.post(f"/console/nlu/modelos/{row.id}/liberar", data=form).status_code == 302
    html = sup.get(f"/console/nlu/modelos/?modelo={row.id}").get_data(as_text=True)
    assert "liberado por supervisão" in html and "Parar revisado à mão; liberar." in html


def test_an_agent_cannot_see_candidates_and_a_form_without_csrf_is_refused(
    app: Flask, db: Database, candidate_env: CandidateEnv
) -> None:
    make_user(db, "agent", "ana@regua.example")
    client = app.test_client()
    log_in(client, "ana@regua.example")
    assert client.get("/console/nlu/modelos/").status_code == 403
    assert client.post("/console/nlu/modelos/treinar").status_code == 400
    with db.session() as s:
        assert s.scalar(select(NluModel)) is None


def test_the_cli_trains_inline_lists_shows_and_overrides(
    db: Database, candidate_env: CandidateEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_BREAK", "ja_paguei")
    make_user(db, "supervisor", "sup@regua.example")
    result = run("nlu", "candidate", "train", "--wait")
    assert result.exit_code == 0, result.output
    assert "Portão: recusado" in result.output and "ja_paguei perdeu recall" in result.output
    with db.session() as s:
        name = s.scalar(select(NluModel.model_file))
    listed = run("nlu", "candidate", "list")
    assert name in listed.output and "pronto" in listed.output and "recusado" in listed.output
    refused = run("nlu", "candidate", "override", name, "--reason", "curto", "--user", "sup@regua.example")
    assert refused.exit_code != 0
    done = run(
        "nlu", "candidate", "override", name, "--reason", "revisado pelo time", "--user", "sup@regua.example"
    )
    assert done.exit_code == 0 and "Liberado." in done.output
    assert "Portão: liberado" in run("nlu", "candidate", "show", name).output
