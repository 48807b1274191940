"""The bot's silence while a person owns the conversation (issue 16 §6), over the whole stack: the real web
app, worker, Rasa and action server, the debtor's messages through the real signed webhook, the agent in
Debian's Chromium (tests/integration/browser.py).

A debtor asks for a person; an agent takes the conversation; the debtor writes several messages, among
them ones the bot would answer at once ("segunda via", the amount owed); nobody but the agent answers
them. The agent gives the conversation back, and the bot answers the debtor's next message. The rows in
the database are the proof: every outbound message while the agent had it carries the agent's id
(`sent_by_user_id`), and the debtor's messages of that time were kept for the agent (`for_agent`).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from bot.models import (
    Conversation,
    ConversationState,
    Direction,
    Message,
    Processing,
    UserRole,
    utcnow,
)
from bot.people import accounts
from tests.integration.browser import logged_in
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration

PASSWORD = "correto-cavalo-bateria-grampo"
# Messages the bot answers at once when it has the conversation (checked after the give-back).
DURING_TAKEOVER = ["segunda via", "qual o valor da minha divida?", "oi, alguem ai?", "quero pagar com pix"]


def _outbound_since(stack: Stack, conversation_id: int, moment: datetime) -> list[Message]:
    with stack.database.session() as s:
        return list(
            s.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.direction == Direction.OUTBOUND,
                    Message.created_at >= moment,
                )
                .order_by(Message.id)
            )
        )


def test_while_an_agent_has_the_conversation_only_the_agent_answers_and_after_the_give_back_the_bot_does(
    stack: Stack, browser: Browser
) -> None:
    email = f"ana-{uuid.uuid4().hex[:8]}@regua.example"
    with stack.database.session() as s:
        ana = accounts.add(
            s, email=email, name="Ana Souza", role=UserRole.AGENT, password=PASSWORD, by="test"
        )
        s.flush()
        ana_id = ana.id
    _, phone = new_debtor(stack.database)
    asked = say(stack, phone, "quero falar com um atendente humano, nao com robo")
    assert asked.texts and asked.texts[0].startswith("Certo! Uma pessoa da nossa equipe"), asked.texts
    with stack.database.session() as s:
        conversation_id = s.scalars(select(Conversation.id).where(Conversation.address == phone)).one()

    # Ana takes the conversation from its page.
    page = logged_in(browser, stack.web_url, email, PASSWORD)
    page.goto(f"{stack.web_url}/console/conversas/{conversation_id}")
    taken_at = utcnow()
    page.get_by_role("button", name="Assumir").click()
    expect(page.get_by_test_id("composer")).to_be_visible()

    # The debtor writes several messages, ones the bot would answer among them: no reply to any.
    for body in DURING_TAKEOVER:
        exchange = say(stack, phone, body)
        assert exchange.processing == Processing.FOR_AGENT, (body, exchange.processing)
        assert exchange.texts == [], (body, exchange.texts)
    thread = page.get_by_test_id("thread")
    expect(thread).to_contain_text(DURING_TAKEOVER[-1], timeout=3_000)

    # Only Ana answers.
    page.get_by_label("Mensagem", exact=True).fill("Olá! Aqui é a Ana. Já envio a segunda via.")
    page.get_by_role("button", name="Enviar", exact=True).click()
    expect(thread.locator("li.item-agent").last).to_contain_text("Já envio a segunda via")
    time.sleep(2)  # time for anything queued behind the messages (the worker) to have spoken up
    during = _outbound_since(stack, conversation_id, taken_at)
    assert [(m.body, m.sent_by_user_id) for m in during] == [
        ("Olá! Aqui é a Ana. Já envio a segunda via.", ana_id)
    ]
    with stack.database.session() as s:
        kept = s.scalars(
            select(Message.processing).where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.INBOUND,
                Message.body.in_(DURING_TAKEOVER),
            )
        ).all()
        assert s.get_one(Conversation, conversation_id).state == ConversationState.WITH_AGENT
    assert sorted(kept) == [Processing.FOR_AGENT] * len(DURING_TAKEOVER)

    # Ana gives it back: the debtor's next message is the bot's to answer again.
    page.get_by_role("button", name="Devolver ao robô").click()
    expect(page.locator(".flash")).to_contain_text(f"Conversa {conversation_id} devolvida ao robô.")
    given_back_at = utcnow()
    answered = say(stack, phone, "segunda via")
    assert answered.processing == Processing.DONE and answered.texts, answered.texts
    after = _outbound_since(stack, conversation_id, given_back_at)
    assert after and all(m.sent_by_user_id is None for m in after)
    assert {m.id for m in answered.replies} <= {m.id for m in after}
