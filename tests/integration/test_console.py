"""The agent console in a real browser, against the whole stack (web app, worker, Rasa, action server).

A debtor asks for a person through the real signed webhook; an agent opens `/` in Debian's Chromium
(tests/integration/browser.py), types a wrong password (a clear message), sends a form whose CSRF token
was removed (refused), logs in, sees the conversation in the queue with its reason, takes it, and logs
out. The queue is also checked at phone width (no sideways scrolling). Then the conversation page: the
agent takes the conversation, a new debtor message appears live, the reply reaches the sandbox with a
status, another agent is kept out, the conversation goes back to the bot and the bot answers; outside the
WhatsApp 24-hour window only a template can be picked, or the text sent by SMS; a long conversation's
older messages load at the top of the thread without leaving the page. The debtor card: the agent sends a
segunda via from it (the Pix code reaches the sandbox) and records a promise to pay (it appears on the
card), and on a phone the card is a collapsible section.

Screenshots of the login page, the queue and the conversation page, at laptop and phone widths, and of
the debtor card (console-card.png), are kept in docs/screenshots/;
re-take them with REGUA_UPDATE_SCREENSHOTS=1 (run this file alone, so the queue holds only its own
conversations):

    REGUA_UPDATE_SCREENSHOTS=1 env -u REDIS_URL .venv/bin/python -m pytest tests/integration/test_console.py
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.models import (
    AuditLog,
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Direction,
    Message,
    MessageStatus,
    UserRole,
)
from bot.people import accounts
from tests.integration.browser import LAPTOP, PHONE, logged_in, new_page, screenshot
from tests.integration.conftest import PIX, Stack, new_debtor, say

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"
TIMEOUT_MS = 15_000


def _page(browser: Browser, viewport: dict[str, int]) -> Page:
    return new_page(browser, viewport, timeout_ms=TIMEOUT_MS)


def _log_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_an_agent_logs_in_sees_a_debtor_waiting_takes_the_conversation_and_logs_out(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email = f"ana-{uuid.uuid4().hex[:8]}@regua.example"
    with stack.database.session() as s:
        agent_id = accounts.add(
            s, email=email, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test"
        ).id

    # Two debtors hand over through the real webhook: one asks for a person, one threatens to sue.
    _, phone = new_debtor(stack.database)
    asked = say(stack, phone, "quero falar com um atendente humano, nao com robo")
    assert asked.texts and asked.texts[0].startswith("Certo! Uma pessoa da nossa equipe"), asked.texts
    _, other_phone = new_debtor(stack.database)
    say(stack, other_phone, "se continuar me cobrando vou no procon")
    with stack.database.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.address == phone)).one()
        assert conversation.state == ConversationState.WAITING_AGENT
        conversation_id = conversation.id

    page = _page(browser, LAPTOP)
    page.goto(f"{stack.web_url}/")
    expect(page.get_by_role("heading", name="Régua")).to_be_visible()
    screenshot(page, "login-laptop.png", tmp_path)

    # A wrong password: a clear message, still on the login page.
    _log_in(page, email, "senha-errada-de-proposito")
    expect(page.get_by_test_id("login-error")).to_have_text(
        "E-mail ou senha incorretos. Confira e tente de novo."
    )

    # A form without its CSRF token (what a forged cross-site form looks like) is refused.
    page.eval_on_selector("input[name=csrf_token]", "input => input.remove()")
    _log_in(page, email, PASSWORD)
    expect(page.locator("body")).to_contain_text("Recarregue a página")

    # The real login: the queue, with the debtor who asked for a person.
    page.goto(f"{stack.web_url}/")
    _log_in(page, email, PASSWORD)
    expect(page).to_have_url(f"{stack.web_url}/console/")
    expect(page.get_by_test_id("who")).to_contain_text("Ana Souza")
    row = page.locator(f"tr[data-conversation='{conversation_id}']")
    expect(row).to_contain_text("Pediu atendimento")
    expect(row).to_contain_text("janela de 24 h aberta")
    expect(row).to_contain_text("Loja Integração Ltda")
    expect(row).to_contain_text("R$ 259,90")
    expect(row).to_contain_text("Ninguém ainda")
    expect(page.locator("tr.priority").first).to_contain_text("Menção jurídica")
    screenshot(page, "queue-laptop.png", tmp_path)

    # On a phone: the same queue, one card per conversation, nothing wider than the screen.
    phone_page = _page(browser, PHONE)
    phone_page.goto(f"{stack.web_url}/")
    screenshot(phone_page, "login-phone.png", tmp_path)
    _log_in(phone_page, email, PASSWORD)
    expect(phone_page.locator(f"tr[data-conversation='{conversation_id}']")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone_page, "queue-phone.png", tmp_path)

    # Take it: assigned to Ana, audited under her.
    row.get_by_role("button", name="Assumir").click()
    expect(page.locator(".flash")).to_contain_text(f"Conversa {conversation_id} assumida por você.")
    expect(page.locator(f"tr[data-conversation='{conversation_id}']")).to_contain_text("Ana Souza")
    with stack.database.session() as s:
        taken = s.get_one(Conversation, conversation_id)
        assert taken.state == ConversationState.WITH_AGENT and taken.assigned_user_id == agent_id
        actors = s.scalars(
            select(AuditLog.actor).where(
                AuditLog.action == "conversation.taken", AuditLog.entity_id == str(conversation_id)
            )
        ).all()
    assert actors == [f"agent:{agent_id}"]

    # Log out: back to the login page, and the console is closed again.
    page.get_by_role("button", name="Sair").click()
    expect(page.locator(".flash")).to_contain_text("Você saiu do console")
    page.goto(f"{stack.web_url}/console/")
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()


def test_an_agent_answers_a_debtor_live_and_gives_the_conversation_back_to_the_bot(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    ana_email, bia_email = f"ana-{suffix}@regua.example", f"bia-{suffix}@regua.example"
    with stack.database.session() as s:
        ana = accounts.add(
            s, email=ana_email, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test"
        )
        accounts.add(s, email=bia_email, name="Bia Lima", role=UserRole.AGENT, password=PASSWORD, by="test")
        s.flush()
        ana_id = ana.id
    _, phone = new_debtor(stack.database)
    asked = say(stack, phone, "quero falar com um atendente humano, nao com robo")
    assert asked.texts and asked.texts[0].startswith("Certo! Uma pessoa da nossa equipe"), asked.texts
    with stack.database.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.address == phone)).one()

    # Ana opens the conversation from the queue, takes it, and the composer appears.
    page = _page(browser, LAPTOP)
    page.goto(f"{stack.web_url}/")
    _log_in(page, ana_email, PASSWORD)
    page.locator(f"tr[data-conversation='{conversation_id}'] a").first.click()
    expect(page).to_have_url(f"{stack.web_url}/console/conversas/{conversation_id}")
    thread = page.get_by_test_id("thread")
    expect(thread).to_contain_text("quero falar com um atendente humano")
    expect(page.get_by_test_id("read-only")).to_contain_text("Assuma a conversa")
    page.get_by_role("button", name="Assumir").click()
    expect(page.get_by_test_id("composer")).to_be_visible()

    # The debtor writes again: the bot stays silent and the message appears on Ana's page by itself.
    waiting = say(stack, phone, "oi, alguem ai?")
    assert waiting.texts == []
    expect(thread).to_contain_text("oi, alguem ai?", timeout=2_000)

    # Ana answers: one message, through the delivery path, to the sandbox (Twilio's stand-in), with a status.
    page.get_by_label("Mensagem", exact=True).fill("Olá! Aqui é a Ana, posso ajudar.")
    page.get_by_role("button", name="Enviar", exact=True).click()
    answer = thread.locator("li.item-agent").last
    expect(answer).to_contain_text("Olá! Aqui é a Ana, posso ajudar.")
    expect(answer).to_contain_text("Guardada (ambiente de teste)")
    with stack.database.session() as s:
        sent = s.scalars(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.sent_by_user_id == ana_id
            )
        ).all()
    assert len(sent) == 1 and sent[0].status == MessageStatus.STORED
    assert (sent[0].provider_sid or "").startswith("SB")
    screenshot(page, "conversation-laptop.png", tmp_path)

    # Bia, another agent, can neither read nor answer Ana's conversation.
    other = _page(browser, LAPTOP)
    other.goto(f"{stack.web_url}/")
    _log_in(other, bia_email, PASSWORD)
    other.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    expect(other).to_have_url(f"{stack.web_url}/console/")
    expect(other.locator(".flash")).to_contain_text("Esta conversa está com outra pessoa")

    # Ana gives it back: the bot answers the debtor's next message.
    page.get_by_role("button", name="Devolver ao robô").click()
    expect(page.locator(".flash")).to_contain_text(f"Conversa {conversation_id} devolvida ao robô.")
    with stack.database.session() as s:
        back = s.get_one(Conversation, conversation_id)
        assert back.state == ConversationState.BOT and back.assigned_user_id is None
    answered = say(stack, phone, "qual o valor da minha divida?")
    assert answered.texts, "the bot answers again after the give-back"


def _owned_by_a_new_agent(stack: Stack) -> tuple[str, int, str, int]:
    """A debtor who asked for a person, their conversation owned by a new agent: (agent's e-mail, agent's
    id, debtor's phone, conversation id)."""
    email = f"ana-{uuid.uuid4().hex[:8]}@regua.example"
    _, phone = new_debtor(stack.database)
    say(stack, phone, "quero falar com um atendente humano, nao com robo")
    with stack.database.session() as s:
        agent_id = accounts.add(
            s, email=email, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test"
        ).id
        conversation = s.scalars(select(Conversation).where(Conversation.address == phone)).one()
        conversation.state, conversation.assigned_user_id = ConversationState.WITH_AGENT, agent_id
        return email, agent_id, phone, conversation.id


def test_outside_the_whatsapp_window_an_agent_can_only_pick_a_template_or_write_by_sms(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email, agent_id, phone, conversation_id = _owned_by_a_new_agent(stack)
    with stack.database.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        conversation.last_inbound_at = conversation.last_inbound_at - timedelta(hours=30)  # type: ignore[operator]
    page = _page(browser, PHONE)
    page.goto(f"{stack.web_url}/")
    _log_in(page, email, PASSWORD)
    page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    expect(page.get_by_test_id("templates-only")).to_be_visible()
    expect(page.get_by_label("Mensagem", exact=True)).to_have_count(0)
    confirm = page.get_by_test_id("composer").get_by_role("checkbox")
    if confirm.count():  # run outside the legal contact window (a night, a Sunday): a proactive message
        confirm.check()
    page.get_by_role("button", name="Enviar", exact=True).click()
    template = page.get_by_test_id("thread").locator("li.item-agent").last
    expect(template).to_contain_text("modelo aprovado")

    # Or the text by SMS to the debtor's phone, naming the creditor: shown in this thread, marked "por SMS".
    sms_form = page.get_by_test_id("sms-composer")
    expect(sms_form.get_by_test_id("sms-preview")).to_contain_text("Loja Integração Ltda (CNPJ")
    sms_form.get_by_label("Ou envie por SMS").fill("Olá! Podemos conversar por aqui também.")
    confirm = sms_form.get_by_role("checkbox")
    if confirm.count():
        confirm.check()
    sms_form.get_by_role("button", name="Enviar por SMS").click()
    by_sms = page.get_by_test_id("thread").locator("li.item-agent").last
    expect(by_sms).to_contain_text("Podemos conversar por aqui também.")
    expect(by_sms.get_by_test_id("via-sms")).to_be_visible()
    expect(by_sms).to_contain_text("Guardada (ambiente de teste)")
    with stack.database.session() as s:
        sms = s.scalars(
            select(Message).where(Message.sent_by_user_id == agent_id, Message.channel == Channel.SMS)
        ).one()
        assert sms.conversation.address == phone and sms.conversation_id != conversation_id
        assert sms.body.startswith("Loja Integração Ltda (CNPJ") and sms.status == MessageStatus.STORED
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "conversation-phone.png", tmp_path)


def test_older_messages_of_a_long_conversation_load_at_the_top_of_the_thread(
    stack: Stack, browser: Browser
) -> None:
    email, _, _, conversation_id = _owned_by_a_new_agent(stack)
    with stack.database.session() as s:
        s.add_all(
            Message(
                conversation_id=conversation_id,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                body=f"mensagem {n}",
                media=[],
                status=MessageStatus.RECEIVED,
            )
            for n in range(250)
        )
        s.flush()
        total = len(s.scalars(select(Message.id).where(Message.conversation_id == conversation_id)).all())
    page = logged_in(browser, stack.web_url, email, PASSWORD)
    page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    thread = page.get_by_test_id("thread")
    expect(thread.locator("li").first).to_contain_text(re.compile(r"\bmensagem 50\b"))
    older = page.get_by_test_id("older")
    older.click()  # the page before (the first 50 and the messages before them), put on top
    expect(thread.locator("li").first).to_contain_text("quero falar com um atendente humano")
    expect(thread).to_contain_text(re.compile(r"\bmensagem 49\b"))
    expect(thread.locator("li")).to_have_count(total)
    expect(older).to_have_count(0)  # nothing older is left
    expect(page).to_have_url(f"{stack.web_url}/console/conversas/{conversation_id}")  # no reload


def test_an_agent_sends_a_segunda_via_and_records_a_promise_from_the_debtor_card(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email = f"ana-{uuid.uuid4().hex[:8]}@regua.example"
    with stack.database.session() as s:
        agent = accounts.add(
            s, email=email, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test"
        )
        s.flush()
        agent_id = agent.id
    debtor_id, phone = new_debtor(stack.database)
    say(stack, phone, "quero falar com um atendente humano, nao com robo")
    with stack.database.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.address == phone)).one()
        name = s.get_one(Debtor, debtor_id).name

    page = logged_in(browser, stack.web_url, email, PASSWORD)
    page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    page.get_by_role("button", name="Assumir").click()
    card = page.get_by_test_id("debtor-card")
    expect(card).to_contain_text(name)
    expect(card).to_contain_text("CPF ***.")
    expect(card.get_by_test_id("card-invoices")).to_contain_text("R$ 259,90")

    # The segunda via goes through the delivery path to the sandbox: the summary with the payment page,
    # then the Pix code and the boleto line, each as Ana's message.
    card.get_by_test_id("card-invoices").get_by_role("button", name="Enviar 2ª via").click()
    expect(page.locator(".flash")).to_contain_text("Segunda via enviada.")
    thread = page.get_by_test_id("thread")
    expect(thread.locator("li.item-agent").filter(has_text=PIX)).to_contain_text(
        "Guardada (ambiente de teste)"
    )
    with stack.database.session() as s:
        sent = s.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.sent_by_user_id == agent_id)
            .order_by(Message.id)
        ).all()
    assert [m.body for m in sent if m.body == PIX] == [PIX] and "/p/" in sent[0].body
    assert all((m.provider_sid or "").startswith("SB") for m in sent)

    # The debtor says she pays in two days: Ana records the promise; it appears on the card.
    day = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=2)).date()
    card = page.get_by_test_id("debtor-card")
    card.get_by_label("Pagará em").fill(day.isoformat())
    card.get_by_role("button", name="Registrar promessa").click()
    expect(page.locator(".flash")).to_contain_text(f"Promessa de pagamento para {day:%d/%m/%Y} registrada.")
    expect(page.get_by_test_id("card-promises")).to_contain_text(f"{day:%d/%m/%Y}")
    expect(page.get_by_test_id("card-promises")).to_contain_text("registrada por agente")
    expect(thread.locator("li.item-agent").filter(has_text="Combinado!")).to_have_count(1)
    screenshot(page, "console-card.png", tmp_path)

    # On a phone the card is a section that opens above the thread, and nothing scrolls sideways.
    phone_page = _page(browser, PHONE)
    phone_page.goto(f"{stack.web_url}/")
    _log_in(phone_page, email, PASSWORD)
    phone_page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    expect(phone_page.get_by_test_id("card-promises")).to_be_hidden()
    phone_page.get_by_text("Ficha do devedor").click()
    expect(phone_page.get_by_test_id("card-promises")).to_contain_text("registrada por agente")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
