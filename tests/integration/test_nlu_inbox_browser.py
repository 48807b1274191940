"""The NLU inbox in a real browser, against the whole stack: a debtor writes through the signed webhook
and the real Rasa answers (its prediction recorded), an agent flags the message "O robô não entendeu" on
the conversation page, and ops, on a phone, find it in `/console/nlu`, give it the right intent and mark
the date it names (an entity, on the masked text).

A screenshot of the inbox at phone width is written to docs/screenshots/ only with
REGUA_UPDATE_SCREENSHOTS=1 (tests/integration/browser.py)."""

from __future__ import annotations

import random
import string
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.config import PROJECT_ROOT
from bot.models import Conversation, MessagePrediction, NluVerdict, UserRole
from bot.nlu_ops import inbox
from bot.people import accounts
from bot.redaction import mask_message
from tests.integration.browser import PHONE, keep_screenshot, logged_in
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"


def _logged_in(browser: Browser, stack: Stack, email: str) -> Page:
    return logged_in(browser, stack.web_url, email, PASSWORD, viewport=PHONE)


def test_an_agent_flags_a_message_and_ops_relabel_it_on_a_phone(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    agent, ops = f"ana-{suffix}@regua.example", f"otto-{suffix}@regua.example"
    with stack.database.session() as s:
        accounts.add(s, email=agent, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test")
        accounts.add(s, email=ops, name="Otto Lima", role=UserRole.OPS, password=PASSWORD, by="test")
    _, phone = new_debtor(stack.database)
    word = "".join(random.choices(string.ascii_lowercase, k=10))  # this test's own group
    text = f"me diz quanto ta o total {word} pra pagar dia 15, com juros e tudo, cpf 123.456.789-09"
    exchange = say(stack, phone, text)
    assert exchange.texts  # the debtor got the bot's answer
    with stack.database.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.address == phone)).one()
        assert s.scalars(
            select(MessagePrediction.intent).where(MessagePrediction.message_id == exchange.message_id)
        ).one()

    page = _logged_in(browser, stack, agent)
    page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    page.locator(f"li[data-message='{exchange.message_id}']").get_by_test_id("flag-nlu").click()
    expect(page.locator("body")).to_contain_text("A mensagem foi para a caixa de entrada da NLU")

    page = _logged_in(browser, stack, ops)
    page.get_by_test_id("nav-nlu").click()
    card = page.locator(f"li[data-group='{inbox.group_key(mask_message(text))}']")
    expect(card).to_contain_text(
        f"me diz quanto ta o total {word} pra pagar dia 15, com juros e tudo, cpf <cpf>"
    )
    expect(card).to_contain_text("marcada por agente")
    assert "123.456.789-09" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    taken = tmp_path / "nlu-inbox-phone.png"
    page.screenshot(path=str(taken), full_page=True)
    keep_screenshot(taken, PROJECT_ROOT / "docs" / "screenshots" / "nlu-inbox-phone.png")

    card.get_by_label("Intenção certa").select_option("consultar_divida")
    # Whatever the model predicted fills the entity rows by default: clear them, then mark the date.
    for row in card.locator(".nlu-entity").all():
        row.locator("select").select_option("")
        row.locator("input").fill("")
    card.get_by_label("Entidade 1", exact=True).select_option("data")
    card.get_by_label("Trecho 1", exact=True).fill("dia 15")
    card.get_by_role("button", name="Trocar intenção").click()
    expect(page.locator("body")).to_contain_text("1 mensagem(ns) rotulada(s)")
    expect(page.locator(f"li[data-group='{inbox.group_key(mask_message(text))}']")).to_have_count(0)
    with stack.database.session() as s:
        row = s.scalars(
            select(MessagePrediction).where(MessagePrediction.message_id == exchange.message_id)
        ).one()
        assert row.label == "consultar_divida"
        assert row.annotations == [{"entity": "data", "value": "dia 15"}]
        assert row.verdict in (NluVerdict.CONFIRMED, NluVerdict.RELABELLED)
