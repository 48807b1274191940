"""The NLU inbox from the console (Flask's test client) and from the terminal (`regua nlu inbox`,
`regua nlu examples`, `regua nlu changes`), over the real services and database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.models import Conversation, ConversationState, MessagePrediction, NluVerdict
from bot.nlu_ops import inbox
from bot.rasa import training
from tests.conftest import People
from tests.unit.conftest import post_message, run
from tests.unit.console_people import form_field, log_in, make_user
from tests.unit.nlu_messages import conversation, predicted


def test_ops_relabel_a_group_in_the_console_and_it_leaves_the_inbox(app: Flask, db: Database) -> None:
    make_user(db, "ops", "ops@regua.example")
    c = conversation(db)
    first, _ = predicted(db, c, "meu cpf 123.456.789-09 ta errado", "afirmar", 0.31)
    second, _ = predicted(db, c, "meu CPF 111.222.333-44 ta errado!", "afirmar", 0.4)
    client = app.test_client()
    log_in(client, "ops@regua.example")
    html = client.get("/console/nlu/").get_data(as_text=True)
    key = inbox.group_key("meu cpf <cpf> ta errado")
    assert f'data-group="{key}"' in html and "2 mensagem(ns)" in html and "baixa confiança" in html
    assert "123.456" not in html and "111.222" not in html  # masked
    assert 'data-testid="nav-nlu"' in html

    form = {
        "csrf_token": form_field(html, "csrf_token"),
        "action": "label",
        "intent": "contestar_divida",
        "message": [str(first), str(second)],
    }
    assert client.post(f"/console/nlu/grupos/{key}", data=form).status_code == 302
    with db.session() as s:
        rows = s.scalars(select(MessagePrediction)).all()
        assert {(r.verdict, r.label) for r in rows} == {(NluVerdict.RELABELLED, "contestar_divida")}
    html = client.get("/console/nlu/").get_data(as_text=True)
    assert 'data-testid="nlu-empty"' in html and "2 mensagem(ns) rotulada(s)" in html


def test_only_the_ticked_messages_of_a_group_are_decided(app: Flask, db: Database) -> None:
    make_user(db, "supervisor", "sup@regua.example")
    c = conversation(db)
    kept, _ = predicted(db, c, "kkk", "afirmar", 0.2)
    dropped, _ = predicted(db, c, "KKK", "afirmar", 0.2)
    client = app.test_client()
    log_in(client, "sup@regua.example")
    html = client.get("/console/nlu/").get_data(as_text=True)
    form = {"csrf_token": form_field(html, "csrf_token"), "action": "discard", "message": [str(dropped)]}
    client.post(f"/console/nlu/grupos/{inbox.group_key('kkk')}", data=form)
    with db.session() as s:
        verdicts = {p.message_id: p.verdict for p in s.scalars(select(MessagePrediction))}
    assert verdicts == {kept: None, dropped: NluVerdict.DISCARDED}


def test_an_agent_cannot_open_the_inbox_and_a_form_without_csrf_is_refused(app: Flask, db: Database) -> None:
    make_user(db, "agent", "ana@regua.example")
    c = conversation(db)
    predicted(db, c, "kkk", "afirmar", 0.2)
    client = app.test_client()
    log_in(client, "ana@regua.example")
    assert client.get("/console/nlu/").status_code == 403
    assert 'data-testid="nav-nlu"' not in client.get("/console/").get_data(as_text=True)
    refused = client.post(f"/console/nlu/grupos/{inbox.group_key('kkk')}", data={"action": "discard"})
    assert refused.status_code == 400
    with db.session() as s:
        assert s.scalars(select(MessagePrediction.verdict)).one() is None


def test_an_agent_flags_a_debtor_message_from_the_conversation_page(
    app: Flask, db: Database, settings: Settings, people: People
) -> None:
    make_user(db)
    post_message(app, settings, "quero o boleto de outubro")  # the bot answered it (no prediction)
    with db.session() as s:
        conversation_row = s.scalars(select(Conversation)).one()
        conversation_row.state = ConversationState.WAITING_AGENT
        conversation_id = conversation_row.id
    client = app.test_client()
    log_in(client, "ana@regua.example")
    page = f"/console/conversas/{conversation_id}"
    html = client.get(page).get_data(as_text=True)
    assert html.count('data-testid="flag-nlu"') == 1  # the debtor's message only, not the bot's answer
    action = re.search(r'action="(/console/nlu/marcar/\d+)"', html).group(1)  # type: ignore[union-attr]
    response = client.post(
        action, data={"csrf_token": form_field(html, "csrf_token"), "conversation": conversation_id}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    assert "foi para a caixa de entrada da NLU" in client.get(page).get_data(as_text=True)
    with db.session() as s:
        groups = inbox.pending(s, settings.nlu_inbox_threshold)
    assert [(g.text, g.reasons) for g in groups] == [("quero o boleto de outubro", ("flagged",))]


# ---- the CLI --------------------------------------------------------------------------------------------


def test_the_cli_lists_the_inbox_labels_a_group_and_writes_the_examples(
    cli_env: Path, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(db, "ops", "ops@regua.example")
    make_user(db, "agent", "ana@regua.example")
    c = conversation(db)
    predicted(db, c, "paguei R$ 80,00 na lotérica", "ja_paguei", 0.41)
    predicted(db, c, "Paguei R$ 12,50 na loterica!", "ja_paguei", 0.39)
    predicted(db, c, "o robô é legal", "nlu_fallback", 0.2)
    listing = run("nlu", "inbox")
    key = inbox.group_key("paguei <valor> na loterica")
    assert listing.exit_code == 0 and "2 grupo(s), 3 mensagem(ns)" in listing.output
    lines = listing.output.splitlines()
    assert lines[1].startswith(f"{key}     2x  ja_paguei") and "R$" not in listing.output

    refused = run("nlu", "inbox", "confirm", key, "--user", "ana@regua.example")
    assert refused.exit_code != 0
    assert run("nlu", "inbox", "confirm", key, "--user", "ops@regua.example").exit_code == 0
    other = inbox.group_key("o robô é legal")
    assert run("nlu", "inbox", "label", other, "cantar", "--user", "ops@regua.example").exit_code != 0
    done = run("nlu", "inbox", "label", other, "fora_de_escopo", "--user", "ops@regua.example")
    assert done.exit_code == 0 and "1 mensagem(ns) decidida(s)" in done.output
    assert "Caixa de entrada vazia" in run("nlu", "inbox").output

    data_dir = tmp_path / "nlu_data"
    for path in training.DATA_DIR.rglob("*.yml"):
        (data_dir / path.relative_to(training.DATA_DIR)).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / path.relative_to(training.DATA_DIR)).write_bytes(path.read_bytes())
    monkeypatch.setattr(training, "DATA_DIR", data_dir)
    written = run("nlu", "examples")
    assert written.exit_code == 0
    assert "  + paguei <valor> na lotérica" in written.output and "  + o robô é legal" in written.output
    assert "2 exemplo(s) novo(s)" in written.output

    model = tmp_path / "models" / "regua-0123456789ab.tar.gz"
    model.parent.mkdir()
    model.write_bytes(b"model")
    monkeypatch.setenv("REGUA_MODELS_DIR", str(model.parent))
    training.write_examples_snapshot(model, training.DATA_DIR)
    (data_dir / "nlu" / "saudacao.yml").write_text(
        (data_dir / "nlu" / "saudacao.yml").read_text(encoding="utf-8") + "      - ola robozinho\n",
        encoding="utf-8",
    )
    from bot.config import get_settings

    get_settings.cache_clear()
    changed = run("nlu", "changes")
    assert changed.exit_code == 0 and "saudacao:\n  + ola robozinho" in changed.output
