"""The NLU serving state machine (bot.nlu_serving): one swap at a time behind a fencing token, switches and
abandons that leave the truth in the state, the deployment history, and the per-turn slot routing."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, select

from bot.config import Settings, get_settings, override
from bot.db import Database
from bot.models import AuditLog, DeploymentAction, NluDeployment, RasaSlot, utcnow
from bot.nlu_serving import boot, routing, state, swap
from bot.rasa import training
from bot.rasa.client import RasaClient
from tests.unit.candidate_env import model_archive
from tests.unit.conftest import FakePool, run
from tests.unit.console_people import form_field, log_in, make_user

PROMOTE = DeploymentAction.PROMOTE


def _serving(db: Database):  # type: ignore[no-untyped-def]
    with db.session() as session:
        row = state.serving(session)
        session.expunge(row)
        return row


def _start(db: Database, blue: str = "/m/a.tar.gz", green: str | None = None) -> None:
    state.record_slot_model(db, RasaSlot.BLUE, blue)
    if green:
        state.record_slot_model(db, RasaSlot.GREEN, green)


def test_a_claim_targets_the_idle_slot_and_a_second_claim_is_refused_until_the_first_ends(
    db: Database,
) -> None:
    _start(db)
    held = state.claim(db, "/m/b.tar.gz", PROMOTE, "cli:ana")
    assert held.target is RasaSlot.GREEN and held.active_model == "/m/a.tar.gz"
    with pytest.raises(state.SwapRefused, match=r"em andamento.*b\.tar\.gz.*cli:ana"):
        state.claim(db, "/m/c.tar.gz", PROMOTE, "cli:bia")
    assert state.abandon(db, held, "O Rasa green não ficou pronto")
    row = _serving(db)
    assert row.swap_token is None and row.active_slot is RasaSlot.BLUE
    assert row.last_error == "O Rasa green não ficou pronto" and row.blue_model == "/m/a.tar.gz"
    assert state.claim(db, "/m/c.tar.gz", PROMOTE, "cli:bia").model_file == "/m/c.tar.gz"


def test_two_people_promoting_at_once_get_one_swap_and_one_refusal(db: Database) -> None:
    _start(db)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def promote(model: str) -> None:
        barrier.wait()
        try:
            results.append(state.claim(db, model, PROMOTE, "cli:x"))
        except state.SwapRefused as refused:
            results.append(refused)

    threads = [threading.Thread(target=promote, args=(f"/m/{n}.tar.gz",)) for n in "bc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["Claim", "SwapRefused"]


def test_switching_moves_traffic_records_the_deployment_and_keeps_the_old_model_in_the_other_slot(
    db: Database,
) -> None:
    _start(db)
    held = state.claim(db, "/m/b.tar.gz", PROMOTE, "agent:7")
    state.mark_loading(db, held)
    assert _serving(db).green_model is None  # unknown while it loads
    deployment = state.switch(db, held)
    row = _serving(db)
    assert row.active_slot is RasaSlot.GREEN and row.green_model == "/m/b.tar.gz"
    assert row.blue_model == "/m/a.tar.gz" and row.swap_token is None and row.switched_at is not None
    assert (deployment.model_file, deployment.previous_model, deployment.actor) == (
        "/m/b.tar.gz",
        "/m/a.tar.gz",
        "agent:7",
    )
    with db.session() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "nlu.promote")).one()
        assert audit.entity_id == "b.tar.gz" and audit.details["previous"] == "a.tar.gz"
        assert [d.model_file for d in state.history(session)] == ["/m/b.tar.gz"]


def test_promoting_the_model_that_already_answers_is_refused_without_claiming(db: Database) -> None:
    _start(db)
    with pytest.raises(state.SwapRefused, match="já está respondendo"):
        state.claim(db, "/m/a.tar.gz", PROMOTE, "cli:ana")
    assert _serving(db).swap_token is None


def test_a_stale_claim_is_taken_over_and_its_holder_can_no_longer_switch_nor_abandon(db: Database) -> None:
    _start(db)
    old = state.claim(db, "/m/b.tar.gz", PROMOTE, "cli:ana", now=utcnow() - state.STALE_CLAIM - timedelta(1))
    new = state.claim(db, "/m/c.tar.gz", PROMOTE, "cli:bia")
    with pytest.raises(state.SwapRefused, match="assumida"):
        state.switch(db, old)
    assert not state.abandon(db, old, "tarde demais")
    row = _serving(db)
    assert row.swap_token == new.token and row.active_slot is RasaSlot.BLUE and row.last_error is None


def test_a_rollback_goes_to_the_model_the_current_one_replaced_or_to_any_model_of_the_history(
    db: Database,
) -> None:
    _start(db)
    with db.session() as session, pytest.raises(state.SwapRefused, match="Não há modelo anterior"):
        state.rollback_target(session)
    state.switch(db, state.claim(db, "/m/b.tar.gz", PROMOTE, "cli:ana"))
    state.switch(db, state.claim(db, "/m/c.tar.gz", PROMOTE, "cli:ana"))
    with db.session() as session:
        assert state.rollback_target(session) == "/m/b.tar.gz"
        assert state.rollback_target(session, "a.tar.gz") == "/m/a.tar.gz"
        with pytest.raises(state.SwapRefused, match="nunca respondeu"):
            state.rollback_target(session, "z.tar.gz")


def test_the_second_swap_targets_the_slot_that_answered_before_and_knows_it_still_runs_its_model(
    db: Database,
) -> None:
    _start(db)
    state.switch(db, state.claim(db, "/m/b.tar.gz", PROMOTE, "cli:ana"))
    back = state.claim(db, "/m/a.tar.gz", DeploymentAction.ROLLBACK, "cli:ana")
    assert back.target is RasaSlot.BLUE and back.target_model == "/m/a.tar.gz"  # no load needed


def test_a_missing_or_truncated_model_file_is_caught_before_rasa_sees_it(tmp_path: Path) -> None:
    swap.check_archive(model_archive(tmp_path / "good.tar.gz"))
    with pytest.raises(swap.SwapFailed, match="ilegível"):
        swap.check_archive(model_archive(tmp_path / "cut.tar.gz", truncate=True))
    with pytest.raises(swap.SwapFailed, match="não encontrado"):
        swap.check_archive(tmp_path / "none.tar.gz")


def test_a_promote_of_a_corrupt_model_is_abandoned_and_the_active_slot_keeps_answering(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    _start(db)
    corrupt = model_archive(tmp_path / "cut.tar.gz", truncate=True)
    with pytest.raises(swap.SwapFailed):
        swap.promote(settings, db, corrupt, "cli:ana")
    row = _serving(db)
    assert row.active_slot is RasaSlot.BLUE and row.blue_model == "/m/a.tar.gz" and row.swap_token is None
    assert "ilegível" in (row.last_error or "")
    assert row.green_model is None or row.green_model != str(corrupt)
    with db.session() as session:
        assert session.scalar(select(NluDeployment.id)) is None


def test_the_route_reads_the_active_slot_once_per_ttl_and_follows_a_switch(
    db: Database, settings: Settings
) -> None:
    settings = override(settings, rasa_url="http://rasa-blue:5005", rasa_green_url="http://rasa-green:5006")
    _start(db)
    statements: list[str] = []
    listener = lambda *args: statements.append(str(args[2]))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        route = routing.ActiveSlotRoute(settings, db, ttl=3600)
        assert {route() for _ in range(100)} == {"http://rasa-blue:5005"}
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    state.switch(db, state.claim(db, "/m/b.tar.gz", PROMOTE, "cli:ana"))
    assert route() == "http://rasa-blue:5005"  # cached: in-flight processes move within the ttl
    assert routing.ActiveSlotRoute(settings, db, ttl=0)() == "http://rasa-green:5006"


def test_the_routed_client_sends_each_call_to_the_slot_the_route_names() -> None:
    slots = iter(["http://rasa-blue:5005", "http://rasa-green:5006"])
    pool = FakePool(body={"intent": {"name": "oi"}})
    client = RasaClient("http://unused:1", 3.0, pool, token="t", route=lambda: next(slots))  # type: ignore[arg-type]
    client.parse("oi")
    client.parse("oi")
    assert [r["url"] for r in pool.requests] == [
        "http://rasa-blue:5005/model/parse?token=t",
        "http://rasa-green:5006/model/parse?token=t",
    ]


def test_loading_a_model_is_a_put_that_only_a_204_confirms() -> None:
    pool = FakePool(status=204, body=b"")
    RasaClient("http://rasa:5006", 3.0, pool, token="t").load_model("/m/b.tar.gz", timeout=60)  # type: ignore[arg-type]
    (sent,) = pool.requests
    assert sent["method"] == "PUT" and sent["url"] == "http://rasa:5006/model?token=t"
    assert sent["timeout"] == 60 and b"/m/b.tar.gz" in sent["body"]
    refused = FakePool(status=400, body={"message": "could not be loaded"})
    with pytest.raises(Exception, match="HTTP 400"):
        RasaClient("http://rasa:5006", 3.0, refused).load_model("/m/x.tar.gz", timeout=60)  # type: ignore[arg-type]


def test_ops_see_which_model_answers_its_history_and_a_rollback_to_the_spare_slot(
    app: Flask, db: Database
) -> None:
    make_user(db, "ops", "ops@regua.example")
    _start(db, green="/m/a.tar.gz")
    state.switch(db, state.claim(db, "/m/b.tar.gz", PROMOTE, "agent:1"))
    state.abandon(db, state.claim(db, "/m/c.tar.gz", PROMOTE, "agent:1"), "O Rasa blue não ficou pronto")
    client = app.test_client()
    log_in(client, "ops@regua.example")
    html = client.get("/console/nlu/servindo/").get_data(as_text=True)
    assert 'data-testid="nav-nlu-serving"' in html
    assert re.search(r'data-testid="nlu-active-model">b\.tar\.gz<', html)
    assert "O Rasa blue não ficou pronto" in html and "O modelo em uso não mudou" in html
    assert "Voltar para a.tar.gz" in html  # blue still runs it: an instant rollback

    # A model the spare slot does not run would need a load: not inside a web request.
    form = {"csrf_token": form_field(html, "csrf_token"), "model": "c.tar.gz"}
    assert client.post("/console/nlu/servindo/voltar", data=form).status_code == 302
    assert "nunca respondeu" in client.get("/console/nlu/servindo/").get_data(as_text=True)
    assert _serving(db).active_slot is RasaSlot.GREEN


def test_an_agent_cannot_see_nor_roll_back_models(app: Flask, db: Database) -> None:
    make_user(db, "agent", "ana@regua.example")
    client = app.test_client()
    log_in(client, "ana@regua.example")
    assert client.get("/console/nlu/servindo/").status_code == 403
    assert 'data-testid="nav-nlu-models"' not in client.get("/console/").get_data(as_text=True)
    assert client.post("/console/nlu/servindo/voltar", data={}).status_code == 400  # no CSRF token


def test_the_cli_refuses_a_promote_without_the_gate_and_reports_an_abandoned_one_in_the_history(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    _start(db)
    missing = tmp_path / "regua-missing.tar.gz"
    assert run("nlu", "promote", str(missing)).exit_code != 0  # the quality gate first
    assert _serving(db).swap_token is None and _serving(db).last_error is None
    refused = run("nlu", "promote", str(missing), "--skip-gate")
    assert refused.exit_code != 0 and "não encontrado" in refused.output
    listing = run("nlu", "history")
    assert "Respondendo: Rasa blue com a.tar.gz" in listing.output
    assert "Última troca abandonada" in listing.output and "regua-missing.tar.gz" in listing.output
    assert _serving(db).active_slot is RasaSlot.BLUE


def test_the_cli_promote_needs_a_person_allowed_to_deploy(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    make_user(db, "agent", "ana@regua.example")
    _start(db)
    refused = run("nlu", "promote", str(tmp_path / "x.tar.gz"), "--skip-gate", "--user", "ana@regua.example")
    assert refused.exit_code != 0 and _serving(db).last_error is None  # refused before any claim
    nothing = run("nlu", "rollback")
    assert nothing.exit_code != 0 and "Não há modelo anterior" in nothing.output


def test_a_slot_starts_with_the_model_the_state_says_it_runs_else_the_trained_one_which_it_records(
    cli_env: Path, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGUA_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    trained = training.model_path()
    trained.parent.mkdir()
    trained.write_bytes(b"model")
    promoted = model_archive(tmp_path / "promoted.tar.gz")
    state.record_slot_model(db, RasaSlot.GREEN, str(promoted))
    assert boot.model_to_serve(get_settings(), RasaSlot.GREEN) == promoted
    assert boot.model_to_serve(get_settings(), RasaSlot.BLUE) == trained
    assert _serving(db).blue_model == str(trained.resolve())
    promoted.unlink()  # a recorded model that is gone: the trained one
    assert boot.model_to_serve(get_settings(), RasaSlot.GREEN) == trained
