"""The console in the browser's shoes (Flask's test client): login, CSRF, rate limits, expiry, the queue."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.config import Settings, override
from bot.db import Database
from bot.models import AuditLog, Channel, Conversation, ConversationState, utcnow
from tests.conftest import PHONE, People
from tests.unit.conftest import post_message
from tests.unit.console_people import PASSWORD, make_user
from webhooks import create_app


def _token(client: FlaskClient, path: str = "/") -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _login(client: FlaskClient, email: str = "ana@regua.example", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/", data={"csrf_token": _token(client), "email": email, "password": password})


def _waiting(
    db: Database, people: People, *, address: str = PHONE, reason: str = "asked", minutes: int = 5
) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=address,
            debtor_id=people.debtor_id,
            state=ConversationState.WAITING_AGENT,
            handoff_reason=reason,
            handoff_requested_at=utcnow() - timedelta(minutes=minutes),
            last_inbound_at=utcnow() - timedelta(minutes=minutes),
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def test_the_home_page_is_the_login_and_a_logged_in_person_goes_to_the_queue(
    app: Flask, db: Database
) -> None:
    make_user(db)
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # not logged in: to the login page
    response = _login(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    assert client.get("/").headers["Location"].endswith("/console/")
    assert "Fila de atendimento" in client.get("/console/").get_data(as_text=True)


def test_a_wrong_password_gets_a_clear_message_and_no_session(app: Flask, db: Database) -> None:
    user_id = make_user(db)
    client = app.test_client()
    for email, password in (("ana@regua.example", "senha-errada-123"), ("ninguem@regua.example", PASSWORD)):
        response = _login(client, email, password)
        assert response.status_code == 401
        assert "E-mail ou senha incorretos" in response.get_data(as_text=True)
        assert client.get("/console/").status_code == 302
    with db.session() as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.actor == f"agent:{user_id}")).all()
    assert actions == ["user.login_failed"]  # the unknown e-mail leaves no row naming anyone


def test_a_form_without_its_csrf_token_is_refused(app: Flask, db: Database) -> None:
    make_user(db)
    client = app.test_client()
    response = client.post("/", data={"email": "ana@regua.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "Recarregue a página" in response.get_data(as_text=True)
    assert _login(client).status_code == 302
    assert client.post("/logout").status_code == 400  # logging out needs the token too
    assert client.get("/console/").status_code == 200


def test_the_signed_webhooks_need_no_csrf_token(app: Flask, settings: Settings, people: People) -> None:
    response, _form = post_message(app, settings, "oi")
    assert response.status_code == 200


def test_logout_ends_the_session(app: Flask, db: Database) -> None:
    make_user(db)
    client = app.test_client()
    _login(client)
    response = client.post("/logout", data={"csrf_token": _token(client, "/console/")})
    assert response.status_code == 302
    assert "Você saiu do console" in client.get("/").get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_the_session_cookie_is_httponly_lax_and_secure_in_production(
    app: Flask, settings: Settings, db: Database
) -> None:
    make_user(db)
    client = app.test_client()
    cookie = _login(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    production = create_app(override(settings, env="production"))
    assert production.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("idle", [True, False])
def test_a_session_expires_when_idle_and_after_its_absolute_lifetime(
    app: Flask, db: Database, idle: bool
) -> None:
    make_user(db)
    client = app.test_client()
    _login(client)
    assert client.get("/console/").status_code == 200
    with client.session_transaction() as session:
        if idle:
            session["seen_at"] = time.time() - 31 * 60  # CONSOLE_IDLE_MINUTES is 30 by default
        else:
            session["login_at"] = time.time() - 13 * 3600  # CONSOLE_SESSION_HOURS is 12
    expired = client.get("/console/")
    assert expired.status_code == 302 and expired.headers["Location"].endswith("/")
    assert "Sua sessão expirou" in client.get("/").get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_a_password_reset_or_disabling_ends_open_sessions(app: Flask, db: Database) -> None:
    from bot.people import accounts

    make_user(db)
    client = app.test_client()
    _login(client)
    with db.session() as s:
        accounts.reset_password(s, "ana@regua.example", "outra-senha-bem-longa-42", by="test")
    assert client.get("/console/").status_code == 302
    _login(client, password="outra-senha-bem-longa-42")
    with db.session() as s:
        accounts.disable(s, "ana@regua.example", by="test")
    assert client.get("/console/").status_code == 302
    assert _login(client, password="outra-senha-bem-longa-42").status_code == 401


def test_failed_logins_are_rate_limited_per_email_even_with_the_right_password(
    settings: Settings, db: Database, app: Flask
) -> None:
    make_user(db)
    client = app.test_client()
    for _ in range(5):  # LOGIN_RATE_LIMIT is 5/minute by default
        assert _login(client, password="errada-errada-1").status_code == 401
    blocked = _login(client)
    assert blocked.status_code == 429
    assert "Muitas tentativas" in blocked.get_data(as_text=True)


def test_the_queue_shows_why_how_long_the_channel_the_creditor_and_the_amount(
    app: Flask, db: Database, people: People
) -> None:
    make_user(db)
    conversation_id = _waiting(db, people, reason="legal_threat", minutes=75)
    client = app.test_client()
    _login(client)
    html = client.get("/console/").get_data(as_text=True)
    row = html[html.index(f'data-conversation="{conversation_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Maria da Silva" in row and "•••• 4321" in row and PHONE not in html
    assert "Menção jurídica" in row and "Prioridade" in row
    assert "1 h 15 min" in row
    assert "WhatsApp" in row and "janela de 24 h aberta" in row
    assert "Loja Exemplo Ltda" in row
    assert "R$ 359,90" in row  # the two open invoices, not the paid one


def test_taking_a_conversation_assigns_it_and_is_audited_under_the_person(
    app: Flask, db: Database, people: People
) -> None:
    user_id = make_user(db)
    conversation_id = _waiting(db, people)
    client = app.test_client()
    _login(client)
    token = _token(client, "/console/")
    response = client.post(f"/console/conversations/{conversation_id}/take", data={"csrf_token": token})
    assert response.status_code == 302
    assert "assumida por você" in client.get("/console/").get_data(as_text=True)
    with db.session() as s:
        taken = s.get_one(Conversation, conversation_id)
        assert taken.state == ConversationState.WITH_AGENT and taken.assigned_user_id == user_id
        actor = s.scalar(select(AuditLog.actor).where(AuditLog.action == "conversation.taken"))
    assert actor == f"agent:{user_id}"
    refused = client.post(f"/console/conversations/{conversation_id}/take")
    assert refused.status_code == 400  # no CSRF token


def test_an_agent_cannot_assign_nor_take_what_someone_else_owns(
    app: Flask, db: Database, people: People
) -> None:
    make_user(db, "agent", "ana@regua.example", "Ana Souza")
    bia = make_user(db, "agent", "bia@regua.example", "Bia Lima")
    conversation_id = _waiting(db, people)
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        conversation.state, conversation.assigned_user_id = ConversationState.WITH_AGENT, bia
    client = app.test_client()
    _login(client)
    assert f'data-conversation="{conversation_id}"' not in client.get("/console/").get_data(as_text=True)
    token = _token(client, "/console/")
    assign = client.post(
        f"/console/conversations/{conversation_id}/assign", data={"csrf_token": token, "user_id": "1"}
    )
    assert assign.status_code == 403
    client.post(f"/console/conversations/{conversation_id}/take", data={"csrf_token": token})
    assert "já está com Bia Lima" in client.get("/console/").get_data(as_text=True)
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).assigned_user_id == bia


def test_a_supervisor_sees_everything_and_assigns(app: Flask, db: Database, people: People) -> None:
    make_user(db, "supervisor", "sil@regua.example", "Silvia Prado")
    bia = make_user(db, "agent", "bia@regua.example", "Bia Lima")
    conversation_id = _waiting(db, people)
    client = app.test_client()
    _login(client, "sil@regua.example")
    token = _token(client, "/console/")
    client.post(
        f"/console/conversations/{conversation_id}/assign", data={"csrf_token": token, "user_id": str(bia)}
    )
    html = client.get("/console/").get_data(as_text=True)
    assert "atribuída a Bia Lima" in html and f'data-conversation="{conversation_id}"' in html
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).assigned_user_id == bia


def test_a_conversation_the_engine_hands_over_appears_in_the_queue(
    app: Flask, db: Database, people: People
) -> None:
    from bot.conversation import handoff

    make_user(db)
    with db.session() as s:
        conversation = Conversation(channel=Channel.SMS, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        handoff.request(s, conversation, actor="bot", reason="asked")
    client = app.test_client()
    _login(client)
    html = client.get("/console/").get_data(as_text=True)
    assert "Pediu atendimento" in html and "SMS" in html and "janela de 24 h" not in html


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_after_the_login_a_person_is_never_sent_to_another_site(
    app: Flask, db: Database, target: str
) -> None:
    make_user(db)
    client = app.test_client()
    data = {"csrf_token": _token(client), "email": "ana@regua.example", "password": PASSWORD, "next": target}
    assert client.post("/", data=data).headers["Location"] == "/console/"


def test_the_login_follows_next_to_a_page_of_this_site(app: Flask, db: Database) -> None:
    make_user(db)
    client = app.test_client()
    to_login = client.get("/console/?scope=mine")
    assert to_login.status_code == 302 and "next=" in to_login.headers["Location"]
    page = client.get(to_login.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/console/?scope=mine"' in page
    data = {
        "csrf_token": _token(client),
        "email": "ana@regua.example",
        "password": PASSWORD,
        "next": "/console/?scope=mine",
    }
    assert client.post("/", data=data).headers["Location"] == "/console/?scope=mine"


def test_the_console_pages_hold_no_inline_script_or_style(app: Flask, db: Database, people: People) -> None:
    make_user(db, "supervisor", "sil@regua.example", "Silvia Prado")
    _waiting(db, people)
    client = app.test_client()
    _login(client, "sil@regua.example")
    html = client.get("/console/").get_data(as_text=True)
    assert "Atribuir" in html and "Assumir" in html
    for page in (html, app.test_client().get("/").get_data(as_text=True)):
        assert "<style" not in page and " style=" not in page
        assert not re.search(r"<script(?![^>]*\ssrc=)", page)
        assert '<script src="/static/console.js">' in page
    assert client.get("/static/console.js").status_code == 200


def test_the_queue_page_polls_for_news_and_for_its_rows(app: Flask, db: Database, people: People) -> None:
    make_user(db)
    client = app.test_client()
    _login(client)
    page = client.get("/console/").get_data(as_text=True)
    assert 'data-news="/console/novidades"' in page and 'data-refresh="/console/fila' in page
    assert "<title>Fila — Régua</title>" in page
    since = (utcnow() - timedelta(seconds=5)).isoformat()
    conversation_id = _waiting(db, people, minutes=0)
    news = client.get("/console/novidades", query_string={"since": since}).get_json()
    assert news["conversations"] == [conversation_id] and news["waiting"] == 1 and news["messages"] == []
    rows = client.get("/console/fila").get_data(as_text=True)
    assert f'data-conversation="{conversation_id}"' in rows and "<html" not in rows
    client.post("/logout", data={"csrf_token": _token(client, "/console/")})
    assert client.get("/console/novidades").status_code == 302


def test_the_queue_tells_when_no_agent_is_on_duty(app: Flask, db: Database) -> None:
    make_user(db)
    client = app.test_client()
    _login(client)
    app.extensions["regua_settings"] = override(app.extensions["regua_settings"], agent_hours="")
    page = client.get("/console/").get_data(as_text=True)
    assert 'data-testid="off-duty"' in page and "Nenhum atendente de plantão agora" in page
    app.extensions["regua_settings"] = override(
        app.extensions["regua_settings"], agent_hours="seg-dom 00:00-24:00"
    )
    assert 'data-testid="off-duty"' not in client.get("/console/").get_data(as_text=True)


def test_the_pages_background_polls_neither_renew_nor_rewrite_the_session_cookie(
    app: Flask, db: Database
) -> None:
    """A poll answered after a form was sent must not bring back the older session (the form's flash
    message would be lost), and polling alone is not the person's activity."""
    make_user(db)
    client = app.test_client()
    _login(client)
    client.get("/console/")  # the page the polls come from (its forms put the CSRF token in the session)
    with client.session_transaction() as session:
        seen_at = session["seen_at"] = time.time() - 60
    for path in ("/console/novidades?since=0", "/console/fila"):
        response = client.get(path)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, path
    with client.session_transaction() as session:
        assert session["seen_at"] == seen_at
    assert "Set-Cookie" in client.get("/console/").headers  # a page the person opened is activity
