"""The console's live queue and alerts in a real browser, against the whole stack.

An agent has the queue open in Debian's Chromium (tests/integration/browser.py); a debtor asks for a person
through the real signed webhook; without any reload the row appears, the banner says so and the title
counts it ("(1) Fila — Régua"). The agent takes the conversation from the swapped-in row; when the debtor
writes again, the alert counts the new message. The banner's screenshot (docs/screenshots/console-alert.png)
is re-taken with REGUA_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from bot.models import Conversation, UserRole
from bot.people import accounts
from tests.integration.browser import SCREENSHOTS, keep_screenshot, logged_in
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"


def test_a_debtor_asking_for_a_person_appears_in_the_open_queue_with_an_alert_and_a_title_count(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email = f"caio-{uuid.uuid4().hex[:8]}@regua.example"
    with stack.database.session() as s:
        accounts.add(s, email=email, name="Caio Reis", role=UserRole.AGENT, password=PASSWORD, by="test")
    page = logged_in(browser, stack.web_url, email, PASSWORD)
    expect(page).to_have_title("Fila — Régua")
    # The browser's notification is only asked for with a button, never on load.
    expect(page.get_by_role("button", name="Ativar notificações")).to_be_visible()

    _, phone = new_debtor(stack.database)
    asked = say(stack, phone, "quero falar com um atendente humano, nao com robo")
    assert asked.texts and asked.texts[0].startswith("Certo! Uma pessoa da nossa equipe"), asked.texts
    with stack.database.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.address == phone)).one()

    row = page.locator(f"tr[data-conversation='{conversation_id}']")
    expect(row).to_contain_text("Pediu atendimento")
    expect(page).to_have_title("(1) Fila — Régua")
    banner = page.get_by_test_id("alert-banner")
    expect(banner).to_contain_text("1 nova conversa na fila")
    taken = tmp_path / "console-alert.png"
    page.screenshot(path=str(taken))
    keep_screenshot(taken, SCREENSHOTS / "console-alert.png")

    # The swapped-in row works: taking it reloads the queue (the count starts again from zero).
    row.get_by_role("button", name="Assumir").click()
    expect(page.locator(".flash")).to_contain_text(f"Conversa {conversation_id} assumida por você.")
    expect(page).to_have_title("Fila — Régua")

    # The debtor writes again in the conversation Caio owns: the alert says so and the title counts it.
    assert say(stack, phone, "oi, alguem ai?").texts == []
    expect(banner).to_contain_text("1 nova mensagem de devedor(a)")
    expect(page).to_have_title(re.compile(r"^\(1\) Fila — Régua$"))
    banner.get_by_role("button", name="Ciente").click()
    expect(page).to_have_title("Fila — Régua")
    expect(banner).to_be_hidden()
    page.context.close()
