"""The conversation page in the browser's shoes (Flask's test client): the thread, live updates, sending
once, notes, giving back; the debtor's messages come through the real signed webhook."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.models import Conversation, ConversationState, Message, utcnow
from tests.conftest import People
from tests.unit.conftest import FakeRasa, FakeSender, post_message
from tests.unit.console_people import form_field as _field
from tests.unit.console_people import log_in as _login
from tests.unit.console_people import make_user


def _asked_for_a_person(app: Flask, db: Database, settings: Settings, fake_rasa: FakeRasa) -> int:
    """The debtor writes through the signed webhook, then the conversation is handed to a person."""
    post_message(app, settings, "oi")
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        conversation.state = ConversationState.WAITING_AGENT
        conversation.handoff_reason = "asked"
        conversation.handoff_requested_at = utcnow() - timedelta(minutes=3)
        return conversation.id


def test_an_agent_takes_reads_sees_new_messages_answers_once_and_gives_back(
    app: Flask, db: Database, settings: Settings, fake_rasa: FakeRasa, sender: FakeSender, people: People
) -> None:
    make_user(db)
    conversation_id = _asked_for_a_person(app, db, settings, fake_rasa)
    client = app.test_client()
    _login(client, "ana@regua.example")
    page_url = f"/console/conversas/{conversation_id}"
    html = client.get(page_url).get_data(as_text=True)
    assert "Assuma a conversa para responder" in html and 'data-testid="composer"' not in html
    client.post(f"{page_url}/assumir", data={"csrf_token": _field(html, "csrf_token")})
    assert fake_rasa.events == [(str(conversation_id), "pause")]

    html = client.get(page_url).get_data(as_text=True)
    assert "eco: oi" in html and 'data-testid="composer"' in html
    after = re.search(r'data-after="(\d+)"', html).group(1)  # type: ignore[union-attr]
    post_message(app, settings, "alguém aí?")  # the bot stays silent: a person has it
    news = client.get(f"{page_url}/novas?after={after}&notes_after=0").get_json()
    assert "alguém aí?" in news["html"] and news["state"] == "with_agent"
    assert [r.body for r in sender.sent].count("eco: alguém aí?") == 0

    form = {
        "csrf_token": _field(html, "csrf_token"),
        "nonce": _field(html, "nonce"),
        "seen": str(news["after"]),
        "text": "Olá, Maria! Aqui é a Ana.",
    }
    for _ in range(2):  # a double click, or the browser resending the form
        assert client.post(f"{page_url}/enviar", data=form).status_code == 302
    assert [r.body for r in sender.sent].count("Olá, Maria! Aqui é a Ana.") == 1

    client.post(f"{page_url}/notas", data={"csrf_token": form["csrf_token"], "note": "Pediu segunda via"})
    html = client.get(page_url).get_data(as_text=True)
    assert "Pediu segunda via" in html and "só agentes veem" in html and "Na fila da operadora" in html

    response = client.post(
        f"{page_url}/devolver",
        data={"csrf_token": form["csrf_token"], "nonce": "fim-1", "closing_text": "Até mais!"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    assert fake_rasa.events[-1] == (str(conversation_id), "resume")
    assert sender.sent[-1].body == "Até mais!"
    post_message(app, settings, "voltei")
    assert sender.sent[-1].body == "eco: voltei"  # the bot answers again


def test_another_agent_reads_nothing_of_a_conversation_someone_else_owns(
    app: Flask, db: Database, settings: Settings, fake_rasa: FakeRasa, people: People
) -> None:
    owner = make_user(db)
    make_user(db, "agent", "bia@regua.example", "Bia Lima")
    conversation_id = _asked_for_a_person(app, db, settings, fake_rasa)
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        conversation.state, conversation.assigned_user_id = ConversationState.WITH_AGENT, owner
    client = app.test_client()
    _login(client, "bia@regua.example")
    page_url = f"/console/conversas/{conversation_id}"
    assert client.get(page_url).status_code == 302
    assert client.get(f"{page_url}/novas?after=0").status_code == 403
    token = _field(client.get("/console/").get_data(as_text=True), "csrf_token")
    client.post(f"{page_url}/enviar", data={"csrf_token": token, "nonce": "x1", "text": "oi"})
    with db.session() as s:
        assert s.scalars(select(Message).where(Message.sent_by_user_id.is_not(None))).all() == []


def test_outside_the_24_hour_window_the_page_offers_templates_or_the_text_by_sms(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_rasa: FakeRasa,
    sender: FakeSender,
    people: People,
) -> None:
    owner = make_user(db)
    conversation_id = _asked_for_a_person(app, db, settings, fake_rasa)
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        conversation.state, conversation.assigned_user_id = ConversationState.WITH_AGENT, owner
        conversation.last_inbound_at = utcnow() - timedelta(hours=30)
    client = app.test_client()
    _login(client, "ana@regua.example")
    page_url = f"/console/conversas/{conversation_id}"
    html = client.get(page_url).get_data(as_text=True)
    assert 'data-testid="templates-only"' in html and 'name="content_sid"' in html
    composer_form, sms_form = html.split('data-testid="sms-composer"')
    assert 'name="text"' not in composer_form.split('data-testid="composer"')[1]  # no free WhatsApp text
    assert 'name="via" value="sms"' in sms_form and "Loja Exemplo Ltda (CNPJ" in sms_form

    form = {
        "csrf_token": _field(html, "csrf_token"),
        "nonce": _field(html, "nonce") + "-sms",
        "via": "sms",
        "confirm": "1",  # whatever the hour the test runs at
        "text": "Podemos conversar?",
    }
    for _ in range(2):  # a double click
        assert client.post(f"{page_url}/enviar", data=form).status_code == 302
    [request] = [r for r in sender.sent if "Podemos conversar?" in r.body]
    assert request.channel.value == "sms" and request.body.startswith("Loja Exemplo Ltda (CNPJ")
    html = client.get(page_url).get_data(as_text=True)
    assert "Podemos conversar?" in html and 'data-testid="via-sms"' in html


def test_the_page_s_polling_does_not_keep_an_idle_session_alive(
    app: Flask, db: Database, settings: Settings, fake_rasa: FakeRasa, people: People
) -> None:
    owner = make_user(db)
    conversation_id = _asked_for_a_person(app, db, settings, fake_rasa)
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        conversation.state, conversation.assigned_user_id = ConversationState.WITH_AGENT, owner
    client = app.test_client()
    _login(client, "ana@regua.example")
    with client.session_transaction() as session:
        session["seen_at"] -= 60  # a minute without the person doing anything
        before = session["seen_at"]
    assert client.get(f"/console/conversas/{conversation_id}/novas?after=0").status_code == 200
    with client.session_transaction() as session:
        assert session["seen_at"] == before
