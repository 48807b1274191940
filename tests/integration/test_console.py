"""The agent console in a real browser, against the whole stack (web app, worker, Rasa, action server).

A debtor asks for a person through the real signed webhook; an agent opens `/` in Debian's Chromium
(tests/integration/browser.py), types a wrong password (a clear message), sends a form whose CSRF token
was removed (refused), logs in, sees the conversation in the queue with its reason, takes it, and logs
out. The queue is also checked at phone width (no sideways scrolling).

Screenshots of the login page and the queue, at laptop and phone widths, are kept in docs/screenshots/;
re-take them with REGUA_UPDATE_SCREENSHOTS=1 (run this file alone, so the queue holds only its own
conversations):

    REGUA_UPDATE_SCREENSHOTS=1 env -u REDIS_URL .venv/bin/python -m pytest tests/integration/test_console.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.models import AuditLog, Conversation, ConversationState, UserRole
from bot.people import accounts
from tests.integration.browser import chromium, keep_screenshot
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correto-cavalo-bateria-grampo"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _page(browser: Browser, viewport: dict[str, int]) -> Page:
    context = browser.new_context(
        viewport=viewport, locale="pt-BR", timezone_id="America/Sao_Paulo", is_mobile=viewport == PHONE
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _shot(page: Page, name: str, tmp_path: Path) -> None:
    taken = tmp_path / name
    page.screenshot(path=str(taken), full_page=True)
    keep_screenshot(taken, SCREENSHOTS / name)


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
    _shot(page, "login-laptop.png", tmp_path)

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
    _shot(page, "queue-laptop.png", tmp_path)

    # On a phone: the same queue, one card per conversation, nothing wider than the screen.
    phone_page = _page(browser, PHONE)
    phone_page.goto(f"{stack.web_url}/")
    _shot(phone_page, "login-phone.png", tmp_path)
    _log_in(phone_page, email, PASSWORD)
    expect(phone_page.locator(f"tr[data-conversation='{conversation_id}']")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(phone_page, "queue-phone.png", tmp_path)

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
