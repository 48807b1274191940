"""Complaints and legal threats go to a person with priority, before the NLU, and open no dispute."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from bot import texts
from bot.config import Settings
from bot.conversation import complaints, handoff
from bot.db import Database
from bot.models import Case, Channel, Conversation, ConversationState, Invoice, Processing
from tests.conftest import People
from tests.unit.conftest import FakeRasa
from tests.unit.test_dialogue import _say


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("se continuar me cobrando vou no procon", "legal_threat"),
        ("vou passar pro meu ADVOGADO", "legal_threat"),
        ("isso vai dar processo", "legal_threat"),
        ("vou entrar com um processo contra vcs", "legal_threat"),
        ("vou te processar", "legal_threat"),
        ("vou na Justiça", "legal_threat"),
        ("vou no juizado de pequenas causas", "legal_threat"),
        ("vou colocar no Reclame Aqui", "complaint"),
        ("quero fazer uma reclamação", "complaint"),
    ],
)
def test_a_legal_threat_or_complaint_is_read_before_the_nlu(body: str, reason: str) -> None:
    assert complaints.reason_in(body) == reason


@pytest.mark.parametrize(
    "body",
    [
        "não reconheço essa dívida",
        "qual o processamento do pix?",
        "qual o processo pra fazer um acordo?",
        "quero pagar",
        "justo",
    ],
)
def test_ordinary_messages_and_disputes_are_not_complaints(body: str) -> None:
    assert complaints.reason_in(body) is None


def test_a_procon_threat_goes_to_a_person_with_priority_and_opens_no_dispute(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, people: People, db: Database
) -> None:  # type: ignore[no-untyped-def]
    exchange = _say(app, settings, services, "se continuar me cobrando vou no procon")
    assert fake_rasa.calls == []
    assert exchange.texts == [texts.complaint_received(handoff.when_agents_answer(settings))]
    assert "procon" not in exchange.texts[0].lower()  # no threat back, no lecture: a person takes it
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.state == ConversationState.WAITING_AGENT
        assert conversation.handoff_reason == "legal_threat"
        assert s.scalars(select(Case)).all() == []
        assert all(i.pause_reason is None for i in s.scalars(select(Invoice)))
    # While a person has it, the bot stays silent.
    assert _say(app, settings, services, "e ai?").processing == Processing.FOR_AGENT


def test_legal_threats_and_complaints_come_first_in_the_agents_queue(db: Database, people: People) -> None:
    with db.session() as s:
        asked = Conversation(channel=Channel.WHATSAPP, address="+5511900000001")
        threat = Conversation(channel=Channel.WHATSAPP, address="+5511900000002")
        s.add_all([asked, threat])
        s.flush()
        handoff.request(s, asked, actor="bot", reason="asked")
        complaints.escalate(s, threat, "legal_threat")
        assert [c.id for c in handoff.waiting(s)] == [threat.id, asked.id]
        handoff.release(s, threat, actor="agent:ana")
        assert threat.handoff_reason is None
