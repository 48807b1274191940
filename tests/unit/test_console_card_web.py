"""The debtor card on the conversation page, in the browser's shoes (Flask's test client): what it shows,
its forms (CSRF, nonce, permissions) and what reaches the debtor through the delivery path."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.db import Database
from bot.models import (
    AgreementOffer,
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Invoice,
    PaymentPromise,
    utcnow,
)
from tests.conftest import PHONE, People
from tests.unit.conftest import FakeSender
from tests.unit.console_people import form_field, log_in, make_user


def _with(db: Database, owner: int, debtor_id: int | None, address: str = PHONE) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel="whatsapp",
            address=address,
            debtor_id=debtor_id,
            state=ConversationState.WITH_AGENT,
            assigned_user_id=owner,
            last_inbound_at=utcnow() - timedelta(minutes=5),
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def _owner_opens(
    app: Flask, db: Database, debtor_id: int | None, *, supervisor: bool = False, address: str = PHONE
) -> tuple[FlaskClient, str, int]:
    """A person (Ana, an agent, or Silvia, a supervisor) who owns a conversation with `debtor_id`, logged
    in: their client, the conversation page's path and the conversation's id."""
    email = "sil@regua.example" if supervisor else "ana@regua.example"
    owner = make_user(db, "supervisor", email, "Silvia Prado") if supervisor else make_user(db)
    conversation_id = _with(db, owner, debtor_id, address)
    client = app.test_client()
    log_in(client, email)
    return client, f"/console/conversas/{conversation_id}", conversation_id


def _form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the card's form posting to `action`."""
    found = re.search(rf'action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert found, action
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1)))


def test_an_agent_sends_a_segunda_via_once_and_records_a_promise_from_the_card(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, _ = _owner_opens(app, db, people.debtor_id)
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="debtor-card"' in html and "Maria da Silva" in html and "***.982.247-**" in html
    assert "R$ 159,90" in html  # the original amount, beside today's updated one

    copy = _form(html, f"{page}/ficha/segunda-via")
    for _ in range(2):  # a double click
        assert client.post(f"{page}/ficha/segunda-via", data=copy).status_code == 302
    pix = [r for r in sender.sent if r.body.startswith("000201")]
    assert len(pix) == 1 and pix[0].to == PHONE and pix[0].media_urls  # the Pix code with its QR image, once

    html = client.get(page).get_data(as_text=True)
    day = (utcnow() + timedelta(days=2)).date()
    promise = {**_form(html, f"{page}/ficha/promessa"), "promised_on": day.isoformat()}
    response = client.post(f"{page}/ficha/promessa", data=promise)
    assert response.status_code == 302 and response.headers["Location"].endswith("#ficha")
    html = client.get(page).get_data(as_text=True)
    assert (
        "Promessa de pagamento para" in html and f"{day:%d/%m/%Y}" in html and "registrada por agente" in html
    )
    assert any(r.body.startswith("Combinado!") for r in sender.sent)


def test_a_card_form_without_its_csrf_token_is_refused(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, _ = _owner_opens(app, db, people.debtor_id)
    response = client.post(f"{page}/ficha/pausar", data={"note": "x"})
    assert response.status_code == 400
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).reminders_paused_at is None


def test_an_agent_cannot_propose_outside_the_policy_even_by_posting_the_form(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, _ = _owner_opens(app, db, people.debtor_id)
    html = client.get(page).get_data(as_text=True)
    assert "fora da política" not in html  # not even offered to an agent
    form = {
        "csrf_token": form_field(html, "csrf_token"),
        "nonce": "x-1",
        "instalments": "24",
        "discount": "50",
        "reason": "Quero dar um desconto grande",
    }
    client.post(f"{page}/ficha/proposta-fora", data=form)
    assert "Você não tem permissão" in client.get(page).get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AgreementOffer)) == 0
    assert sender.sent == []


def test_a_supervisor_sees_the_out_of_policy_form_and_pauses_the_régua(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, _ = _owner_opens(app, db, people.debtor_id, supervisor=True)
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="outside-policy"' in html
    client.post(f"{page}/ficha/pausar", data={**_form(html, f"{page}/ficha/pausar"), "note": "Em tratamento"})
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="paused"' in html and "Silvia Prado" in html and "Em tratamento" in html


def test_the_page_says_plainly_when_the_debtor_is_not_identified(
    app: Flask, db: Database, people: People
) -> None:
    client, page, _ = _owner_opens(app, db, None, address="+5511900000001")
    html = client.get(page).get_data(as_text=True)
    assert 'data-testid="card-unknown"' in html and "Devedor ainda não identificado" in html


def test_outside_the_whatsapp_window_the_card_offers_no_action_that_sends_text(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, conversation_id = _owner_opens(app, db, people.debtor_id)
    with db.session() as s:
        s.get_one(Conversation, conversation_id).last_inbound_at = utcnow() - timedelta(hours=30)
        s.get_one(Debtor, people.debtor_id).sms_opted_out_at = utcnow()  # and no SMS either
        invoice_id = s.scalar(select(Invoice.id).where(Invoice.external_ref == "F-1"))
    html = client.get(page).get_data(as_text=True)
    assert "Enviar 2ª via" not in html and "ficam indisponíveis" in html
    form = {"csrf_token": form_field(html, "csrf_token"), "nonce": "x-2", "target": f"invoice-{invoice_id}"}
    client.post(f"{page}/ficha/segunda-via", data=form)  # posted anyway: the server refuses
    assert "Fora da janela de 24 horas" in client.get(page).get_data(as_text=True)
    assert sender.sent == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PaymentPromise)) == 0


def test_outside_the_whatsapp_window_the_segunda_via_goes_once_by_sms_naming_the_creditor(
    app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    client, page, conversation_id = _owner_opens(app, db, people.debtor_id)
    with db.session() as s:
        s.get_one(Conversation, conversation_id).last_inbound_at = utcnow() - timedelta(hours=30)
    html = client.get(page).get_data(as_text=True)
    assert "Enviar 2ª via por SMS" in html and "a segunda via pode ir por SMS" in html
    assert "Registrar promessa" not in html  # the other actions still need the window
    copy = _form(html, f"{page}/ficha/segunda-via")
    assert copy["via"] == "sms"
    copy.setdefault("confirm", "1")  # outside the legal contact window the agent confirms
    for _ in range(2):  # a double click
        client.post(f"{page}/ficha/segunda-via", data=copy)
    assert all(r.channel == Channel.SMS and r.to == PHONE and not r.media_urls for r in sender.sent)
    summary, pix = sender.sent[0], [r for r in sender.sent if r.body.startswith("000201")]
    assert "CNPJ" in summary.body and "responda PARAR" in summary.body and len(pix) == 1
    html = client.get(page).get_data(as_text=True)
    assert "Segunda via enviada por SMS." in html and html.count('data-testid="via-sms"') == len(sender.sent)
