"""Promotes and rollbacks from the console (issue 17 §6–§7): claimed in the request, run as a job on the
`nlu` queue (bot.nlu_serving.jobs), its progress on `/console/nlu/servindo`; over the real database and
Redis queue, with the Rasa slots replaced by `FakeSlots`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.job import JobStatus
from sqlalchemy import select

from bot.config import Settings, get_settings
from bot.db import Database
from bot.models import AuditLog, DeploymentAction, NluDeployment, NluServing, RasaSlot, User, utcnow
from bot.nlu_ops import gate
from bot.nlu_serving import jobs, routing, state, swap
from bot.rasa.client import RasaUnavailable
from tests.candidate_rows import ready_candidate
from tests.unit.candidate_env import model_archive
from tests.unit.console_people import form_field, log_in, make_user

CURRENT = "/m/regua-current.tar.gz"


class FakeSlots:
    """The two Rasa slots: what each runs (a file name), loads that succeed unless `refuse`, and the
    stage the job had written in Redis when each load began."""

    def __init__(self, conn: redis.Redis) -> None:
        self.runs = {RasaSlot.BLUE: Path(CURRENT).name, RasaSlot.GREEN: Path(CURRENT).name}
        self.refuse = False
        self.stages_seen: list[bytes | None] = []
        self.conn = conn

    def client(self, slot: RasaSlot):  # type: ignore[no-untyped-def]
        slots = self

        class Client:
            def load_model(self, path: str, timeout: float) -> None:
                token = _serving_token(slots.conn)
                slots.stages_seen.append(slots.conn.get(jobs.progress_key(token)) if token else None)
                if slots.refuse:
                    raise RasaUnavailable("HTTP 400: could not be loaded")
                slots.runs[slot] = Path(path).name

            def status(self) -> dict:
                return {"model_file": slots.runs[slot]}

            def parse(self, text: str) -> dict:
                return {"intent": {"name": "cumprimentar", "confidence": 0.9}}

        return Client()


def _serving_token(conn: redis.Redis) -> str | None:
    keys = conn.keys(jobs.progress_key("*"))
    return keys[0].decode().rsplit(":", 1)[1] if keys else None


@pytest.fixture
def slots(monkeypatch: pytest.MonkeyPatch, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[FakeSlots]:
    """Fake Rasa slots, no drain wait, and candidates kept under the test's directory."""
    fake = FakeSlots(redis_conn)
    monkeypatch.setattr(routing, "slot_client", lambda settings, slot, **kw: fake.client(slot))
    monkeypatch.setattr(swap, "drain_seconds", lambda settings: 0.0)
    monkeypatch.setenv("REGUA_CANDIDATES_DIR", str(tmp_path / "candidates"))
    get_settings.cache_clear()
    yield fake
    get_settings.cache_clear()


def _candidate(db: Database, name: str, *, breaks: str | None = None) -> int:
    model_archive(_candidates_dir() / name)
    return ready_candidate(db, name, Path(CURRENT).name, breaks=breaks)


def _candidates_dir() -> Path:
    directory = get_settings().candidates_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _serving(db: Database) -> NluServing:
    with db.session() as session:
        row = state.serving(session)
        session.expunge(row)
        return row


def _page(client: FlaskClient, url: str = "/console/nlu/servindo/") -> str:
    return client.get(url).get_data(as_text=True)


def _queued(redis_conn: redis.Redis) -> list:  # type: ignore[type-arg]
    return Queue(jobs.QUEUE, connection=redis_conn).jobs


def _promote(client: FlaskClient, candidate_id: int) -> int:
    html = _page(client, f"/console/nlu/modelos/?modelo={candidate_id}")
    form = {"csrf_token": form_field(html, "csrf_token")}
    return client.post(f"/console/nlu/modelos/{candidate_id}/promover", data=form).status_code


def _ops_promoted(app: Flask, db: Database) -> FlaskClient:
    """Ops (logged in: the client returned) asked for the promote of a passed candidate."""
    make_user(db, "ops", "otto@regua.example")
    state.record_slot_model(db, RasaSlot.BLUE, CURRENT)
    candidate_id = _candidate(db, "regua-new.tar.gz")
    client = app.test_client()
    log_in(client, "otto@regua.example")
    assert _promote(client, candidate_id) == 302
    return client


def test_ops_promote_a_passed_candidate_as_a_job_on_the_nlu_queue_and_a_second_click_is_refused(
    app: Flask, db: Database, settings: Settings, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    ops_id = make_user(db, "ops", "otto@regua.example", name="Otto Lima")
    state.record_slot_model(db, RasaSlot.BLUE, CURRENT)
    candidate_id = _candidate(db, "regua-new.tar.gz")
    client = app.test_client()
    log_in(client, "otto@regua.example")
    assert 'data-testid="promote"' in _page(client, f"/console/nlu/modelos/?modelo={candidate_id}")

    assert _promote(client, candidate_id) == 302
    (job,) = _queued(redis_conn)
    held = job.args[0]
    assert job.func_name == jobs.SWAP_JOB and job.id == jobs.job_id(held.token)
    assert held.actor == f"agent:{ops_id}" and held.model_file.endswith("/regua-new.tar.gz")
    html = _page(client)
    assert 'data-testid="swap-progress"' in html and "Na fila do worker de NLU" in html
    assert 'http-equiv="refresh"' in html  # without JavaScript, the page refreshes itself meanwhile
    polled = client.get("/console/nlu/servindo/andamento")
    assert polled.get_json()["stage"] == "queued"
    assert "Set-Cookie" not in polled.headers  # a poll is not the person's activity (webhooks.auth)

    assert _promote(client, candidate_id) == 302  # a double click, or a second person
    assert "Já há uma troca de modelo em andamento" in _page(client)
    assert len(_queued(redis_conn)) == 1

    outcome = jobs.run(settings, db, redis_conn, held, load_timeout=5)
    assert outcome is not None and outcome.loaded and outcome.slot is RasaSlot.GREEN
    assert slots.stages_seen == [b"loading"] and not redis_conn.keys(jobs.progress_key("*"))
    assert client.get("/console/nlu/servindo/andamento").get_json() == {"swapping": False}
    html = _page(client)
    assert re.search(r'data-testid="nlu-active-model">regua-new\.tar\.gz<', html)
    assert "Otto Lima" in html and 'data-testid="swap-progress"' not in html
    with db.session() as session:
        deployment = session.scalars(select(NluDeployment)).one()
        assert deployment.actor == f"agent:{ops_id}" and deployment.previous_model == CURRENT
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == f"agent:{ops_id}")).all()
        assert {"nlu.swap_requested", "nlu.promote"} <= set(actions)


def test_a_candidate_the_gate_refused_cannot_be_promoted_until_a_supervisor_lets_it_through(
    app: Flask, db: Database, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    make_user(db, "ops", "otto@regua.example")
    sup_id = make_user(db, "supervisor", "sara@regua.example", name="Sara")
    state.record_slot_model(db, RasaSlot.BLUE, CURRENT)
    candidate_id = _candidate(db, "regua-broken.tar.gz", breaks="parar")
    client = app.test_client()
    log_in(client, "otto@regua.example")
    assert 'data-testid="promote"' not in _page(client, f"/console/nlu/modelos/?modelo={candidate_id}")
    assert _promote(client, candidate_id) == 302  # a forged form
    html = _page(client, f"/console/nlu/modelos/?modelo={candidate_id}")
    assert "O portão de qualidade recusou este candidato" in html and "parar perdeu recall" in html
    assert _queued(redis_conn) == [] and _serving(db).swap_token is None

    with db.session() as session:
        gate.override(
            session, "regua-broken.tar.gz", session.get_one(User, sup_id), "Revisado à mão pelo time"
        )
    assert 'data-testid="promote"' in _page(client, f"/console/nlu/modelos/?modelo={candidate_id}")
    assert _promote(client, candidate_id) == 302 and len(_queued(redis_conn)) == 1


def test_an_agent_cannot_promote_a_candidate(
    app: Flask, db: Database, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    make_user(db, "agent", "ana@regua.example")
    candidate_id = _candidate(db, "regua-new.tar.gz")
    client = app.test_client()
    log_in(client, "ana@regua.example")
    token = form_field(_page(client, "/console/"), "csrf_token")
    client.post(f"/console/nlu/modelos/{candidate_id}/promover", data={"csrf_token": token})
    assert _queued(redis_conn) == [] and _serving(db).swap_token is None
    assert client.get("/console/nlu/servindo/andamento").status_code == 403


def test_a_swap_whose_load_fails_is_abandoned_and_the_page_says_why_while_the_model_in_use_stays(
    app: Flask, db: Database, settings: Settings, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    client = _ops_promoted(app, db)
    slots.refuse = True
    assert jobs.run(settings, db, redis_conn, _queued(redis_conn)[0].args[0], load_timeout=5) is None
    row = _serving(db)
    assert row.active_slot is RasaSlot.BLUE and row.blue_model == CURRENT and row.swap_token is None
    html = _page(client)
    assert "O Rasa green não carregou o modelo" in html and "O modelo em uso não mudou" in html


def test_a_swap_job_whose_worker_was_killed_is_released_and_the_page_tells_the_truth(
    app: Flask, db: Database, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    client = _ops_promoted(app, db)
    (job,) = _queued(redis_conn)
    token = job.args[0].token
    # The worker took the job and is alive: it renews its stage key.
    job.set_status(JobStatus.STARTED)
    job.started_at = utcnow() - timedelta(minutes=2)
    job.save()
    redis_conn.set(jobs.progress_key(token), "loading", ex=jobs.PROGRESS_TTL)
    assert "Carregando o modelo no Rasa green" in _page(client)
    assert _serving(db).swap_token == token

    redis_conn.delete(jobs.progress_key(token))  # killed: its key is not renewed, and expires
    html = _page(client)
    assert "A troca parou sem terminar" in html and 'data-testid="swap-progress"' not in html
    row = _serving(db)
    assert row.swap_token is None and row.active_slot is RasaSlot.BLUE and row.blue_model == CURRENT
    assert state.claim(
        db, CURRENT.replace("current", "next"), DeploymentAction.PROMOTE, "agent:1"
    )  # free again


def test_any_model_of_the_history_is_one_click_away_instantly_from_the_spare_slot_or_as_a_job(
    app: Flask, db: Database, settings: Settings, redis_conn: redis.Redis, slots: FakeSlots
) -> None:
    make_user(db, "ops", "otto@regua.example")
    first, second, third = (str(model_archive(_candidates_dir() / f"regua-{n}.tar.gz")) for n in "abc")
    state.record_slot_model(db, RasaSlot.BLUE, first)
    for model in (second, third):
        held = state.claim(db, model, DeploymentAction.PROMOTE, "cli:ana")
        state.switch(db, held)
    slots.runs = {RasaSlot.BLUE: "regua-c.tar.gz", RasaSlot.GREEN: "regua-b.tar.gz"}
    client = app.test_client()
    log_in(client, "otto@regua.example")
    html = _page(client)
    assert "Voltar para regua-b.tar.gz" in html and "Voltar para regua-a.tar.gz" in html
    assert "Voltar para regua-c.tar.gz" not in html  # it answers now

    token = form_field(html, "csrf_token")
    client.post("/console/nlu/servindo/voltar", data={"csrf_token": token, "model": second})
    assert "regua-b.tar.gz voltou a responder aos devedores" in _page(client)
    assert _queued(redis_conn) == []  # instant: the spare slot ran it

    client.post("/console/nlu/servindo/voltar", data={"csrf_token": token, "model": first})
    assert "Troca pedida" in _page(client) and _serving(db).active_slot is RasaSlot.GREEN
    (job,) = _queued(redis_conn)
    assert jobs.run(settings, db, redis_conn, job.args[0], load_timeout=5) is not None
    row = _serving(db)
    assert row.active_slot is RasaSlot.BLUE and row.blue_model == first
    with db.session() as session:
        assert [d.action.value for d in state.history(session, 2)] == ["rollback", "rollback"]
