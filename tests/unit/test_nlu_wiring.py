"""Everything that talks to "the" Rasa or "the current model" follows the serving state (issue 17 §6):
readiness checks the slot answering debtors, `regua handoff release` tells that slot, the current model
is the one it serves (what changed since it, the candidates' baseline), and training's clean-up keeps
every model a slot runs or a rollback may need."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import select

from bot import health
from bot.config import Settings, get_settings
from bot.db import Database
from bot.models import Conversation, ConversationState, DeploymentAction, NluModel, RasaSlot
from bot.nlu_ops import candidates, changes, trainer
from bot.nlu_serving import state
from bot.rasa import client as rasa_client
from bot.rasa import training
from tests.conftest import PHONE
from tests.unit.candidate_env import CandidateEnv
from tests.unit.conftest import FakePool, run
from tests.unit.console_people import make_user
from tests.unit.nlu_messages import conversation

PROMOTE = DeploymentAction.PROMOTE


def _green_answers(db: Database, blue: str = "/m/a.tar.gz", green: str = "/m/b.tar.gz") -> None:
    """Blue served `blue`, then `green` was promoted into green: green answers debtors."""
    state.record_slot_model(db, RasaSlot.BLUE, blue)
    state.switch(db, state.claim(db, green, PROMOTE, "cli:ops"))


class FakeGet:
    """`requests.get` for the health checks: only the URLs under `up` answer, with a loaded model."""

    def __init__(self, up: str) -> None:
        self.up = up
        self.urls: list[str] = []

    def __call__(self, url: str, **_: Any) -> requests.Response:
        self.urls.append(url)
        if not url.startswith(self.up):
            raise requests.ConnectionError("refused")
        response = requests.Response()
        response.status_code, response._content = 200, b'{"model_file": "b.tar.gz"}'
        return response


def test_readiness_checks_the_slot_answering_debtors(
    app: Flask, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _green_answers(db)
    fake = FakeGet(settings.rasa_green_url)
    monkeypatch.setattr(health.requests, "get", fake)
    rasa = app.test_client().get("/health/ready").get_json()["checks"]["rasa"]
    assert rasa["ok"] is True and rasa["slot"] == "green"
    assert rasa["detail"].startswith("active slot green:")
    assert fake.urls == [f"{settings.rasa_green_url}/status"]  # blue, the spare slot, is not asked


def test_readiness_without_a_serving_record_checks_blue(
    app: Flask, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health.requests, "get", FakeGet(settings.rasa_green_url))
    rasa = app.test_client().get("/health/ready").get_json()["checks"]["rasa"]
    assert rasa["slot"] == "blue" and rasa["ok"] is False  # blue does not answer here


def test_regua_health_says_which_slot_answers_debtors_and_which_is_the_spare(
    db: Database, settings: Settings, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _green_answers(db)
    monkeypatch.setattr(health.requests, "get", FakeGet(settings.rasa_green_url))
    results = health.process_checks(settings, redis_conn, db)
    assert results["rasa-green"].ok and results["rasa-green"].detail.endswith("(answers debtors)")
    assert not results["rasa"].ok and results["rasa"].detail.endswith("(spare slot)")


def test_handoff_release_tells_the_rasa_slot_answering_debtors(
    cli_env: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = FakePool(body={})
    monkeypatch.setattr(rasa_client.urllib3, "PoolManager", lambda **_: pool)
    _green_answers(db)
    conversation_id = conversation(db, PHONE)
    with db.session() as s:  # the debtor asked for a person
        s.get_one(Conversation, conversation_id).state = ConversationState.WAITING_AGENT
    make_user(db, "agent", "ana@regua.example", "Ana Souza")
    user = ("--user", "ana@regua.example")
    assert run("handoff", "take", str(conversation_id), *user).exit_code == 0
    released = run("handoff", "release", str(conversation_id), *user)
    assert released.exit_code == 0 and "Aviso" not in released.output
    green = get_settings().rasa_green_url
    assert [r["url"].split("?")[0] for r in pool.requests] == [
        f"{green}/conversations/{conversation_id}/tracker/events"
    ]


# ---- the current model ---------------------------------------------------------------------------------


def _model(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    os.utime(path, (mtime, mtime))
    return path


def test_the_current_model_is_the_one_the_active_slot_serves_else_the_newest_trained(
    db: Database, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    served = _model(models / "regua-000000000001.tar.gz", 1_000)
    newest = _model(models / "regua-000000000002.tar.gz", 2_000)
    with db.session() as s:
        assert changes.current_model(s, models) == newest  # no serving record yet
    promoted = _model(tmp_path / "candidates" / "regua-000000000001-20261207.tar.gz", 500)
    _green_answers(db, blue=str(served), green=str(promoted))
    with db.session() as s:
        assert changes.current_model(s, models) == promoted
    promoted.unlink()  # a recorded model that is gone: the newest trained one, not a missing file
    with db.session() as s:
        assert changes.current_model(s, models) == newest


def test_a_candidate_is_compared_with_the_model_answering_debtors(
    candidate_env: CandidateEnv, db: Database
) -> None:
    served = candidate_env.models_dir / "regua-served.tar.gz"
    served.write_text(candidate_env.current_model.read_text())
    os.utime(served, (1_000, 1_000))  # older than regua-current: the newest file is not the served one
    _green_answers(db, blue=str(candidate_env.current_model), green=str(served))
    with db.session() as s:
        candidate_id = candidates.start(s, None, via="cli").id
    # The job's own baseline (no `current_model` given): the serving state's model.
    assert trainer.run(db, candidate_id, data_dir=candidate_env.data_dir)
    with db.session() as s:
        evaluation = s.scalars(select(NluModel.evaluation).where(NluModel.id == candidate_id)).one()
    assert evaluation["current_model"] == "regua-served.tar.gz"


# ---- training's clean-up -------------------------------------------------------------------------------


def test_the_clean_up_keeps_the_models_the_slots_and_the_history_name_with_their_snapshots(
    db: Database, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    files = {
        name: _model(models / name, 1_000)
        for name in (
            "regua-aaaaaaaaaaaa.tar.gz",  # blue
            "regua-aaaaaaaaaaaa.examples.json",
            "regua-bbbbbbbbbbbb.tar.gz",  # green, answering
            "regua-cccccccccccc.tar.gz",  # rolled back from: a rollback target
            "regua-cccccccccccc.examples.json",
            "regua-dddddddddddd.tar.gz",  # named by nothing
            "regua-dddddddddddd.examples.json",
            "regua-eeeeeeeeeeee.tar.gz",  # just trained
        )
    }
    state.record_slot_model(db, RasaSlot.BLUE, str(files["regua-cccccccccccc.tar.gz"]))
    state.switch(db, state.claim(db, str(files["regua-bbbbbbbbbbbb.tar.gz"]), PROMOTE, "cli:ops"))
    state.switch(db, state.claim(db, str(files["regua-aaaaaaaaaaaa.tar.gz"]), PROMOTE, "cli:ops"))
    state.switch(db, state.claim(db, str(files["regua-bbbbbbbbbbbb.tar.gz"]), PROMOTE, "cli:ops"))
    keep = state.models_to_keep(db)
    assert keep is not None
    removed = training.remove_old_models(models, {*keep, models / "regua-eeeeeeeeeeee.tar.gz"})
    assert sorted(p.name for p in removed) == [
        "regua-dddddddddddd.examples.json",
        "regua-dddddddddddd.tar.gz",
    ]
    assert sorted(p.name for p in models.iterdir()) == sorted(set(files) - {p.name for p in removed})


def test_training_removes_no_model_when_the_models_in_use_are_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGUA_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    try:
        target = _model(training.model_path(), 2_000)
        training.write_examples_snapshot(target)
        old = _model(target.with_name("regua-000000000000.tar.gz"), 1_000)
        assert training.ensure_model(keep=None) == target and old.exists()
        assert training.ensure_model(keep=[old.name]) == target and old.exists()
        assert training.ensure_model() == target and old.exists()  # nobody said what may go
        assert training.ensure_model(keep=()) == target and not old.exists()
    finally:
        get_settings.cache_clear()


def test_the_models_in_use_are_unknown_when_the_database_does_not_answer() -> None:
    unreachable = Database("postgresql://nobody@127.0.0.1:9/none")
    try:
        assert state.models_to_keep(unreachable) is None
    finally:
        unreachable.dispose()
