"""The custom actions (rasa_sdk CollectingDispatcher, tracker fixtures) and the answers behind them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.actions import (
    ActionConsultarDivida,
    ActionFalarAtendente,
    ActionFallback,
    ActionFormaPagamento,
    ActionParar,
    ActionPrometerPagamento,
    ActionRenegociar,
    ActionSegundaVia,
)
from bot import localtime, texts
from bot.answers import debts, turns
from bot.config import Settings
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Invoice,
    OptOutEvent,
    PaymentPromise,
    PromiseStatus,
    utcnow,
)
from bot.money import format_brl
from bot.payments.amounts import updated_amount
from tests.conftest import PHONE, People


@pytest.fixture
def conversation_id(db: Database, people: People) -> int:
    with db.session() as s:
        conversation = Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        return conversation.id


@pytest.fixture(autouse=True)
def _action_server_settings(monkeypatch, settings: Settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    """The action server reads its settings and database from the environment; point both at the tests'."""
    monkeypatch.setattr("bot.answers.turns.get_settings", lambda: settings)
    monkeypatch.setattr("bot.answers.turns.get_database", lambda _url: db)


def tracker(
    sender_id: str,
    intent: str,
    *,
    events: list[dict[str, Any]] | None = None,
    text: str = "",
    entities: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "text": text,
        "entities": entities or [],
        "metadata": {"message_id": 7},
    }
    return Tracker(sender_id, {}, latest, events or [], False, None, {}, "action_listen")


def run(action, sender_id: str, intent: str, **kwargs) -> tuple[list[str], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker(sender_id, intent, **kwargs), {})
    return [m["text"] for m in dispatcher.messages], events


def test_action_names_match_the_domain() -> None:
    names = [a().name() for a in (ActionSegundaVia, ActionConsultarDivida, ActionFormaPagamento, ActionParar)]
    assert names == [
        "action_segunda_via",
        "action_consultar_divida",
        "action_forma_pagamento",
        "action_parar",
    ]


def test_segunda_via_sends_every_instrument_with_the_creditor_named(
    conversation_id: int, settings: Settings
) -> None:
    dispatcher = CollectingDispatcher()
    ActionSegundaVia().run(dispatcher, tracker(str(conversation_id), "segunda_via"), {})
    messages = [m["text"] for m in dispatcher.messages]
    first = messages[0]
    assert "Loja Exemplo Ltda (CNPJ 11.222.333/0001-81)" in first
    # Overdue: the updated amount, itemised (2 % fine on R$ 159,90 = R$ 3,20, plus interest).
    assert "valor original R$ 159,90 + multa R$ 3,20 + juros" in first and "venceu em" in first
    assert f"Pague pelo link: {settings.public_base_url}/p/" in first
    # The Pix code and the boleto line come alone, ready to copy, with their images on WhatsApp.
    assert messages[1].startswith("000201") and messages[2].isdigit() and len(messages[2]) == 47
    assert "/m/" in dispatcher.messages[1]["image"] and "/m/" in dispatcher.messages[2]["image"]
    # The invoice not yet due is charged its original amount; the paid one is not shown.
    assert any("R$ 200,00, vence em" in m for m in messages)
    assert not any("R$ 50,00" in m for m in messages)


def test_consultar_divida_lists_open_invoices_and_the_updated_total(
    conversation_id: int, db: Database
) -> None:
    messages, _ = run(ActionConsultarDivida(), str(conversation_id), "consultar_divida")
    assert "valor original R$ 159,90" in messages[0] and "R$ 200,00" in messages[0]
    with db.session() as s:
        overdue = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        local_today = localtime.local_date(utcnow(), "America/Sao_Paulo")
        updated = updated_amount(overdue.amount_cents, overdue.due_date, local_today).total_cents
    assert f"Total atualizado: {format_brl(updated + 20000)}." in messages[0]
    assert "CNPJ 11.222.333/0001-81" in messages[0]


@pytest.mark.parametrize("sender_id", ["999999", "not-a-number", ""])
def test_unknown_conversations_learn_nothing(sender_id: str, people: People) -> None:
    for action in (ActionSegundaVia(), ActionConsultarDivida()):
        messages, _ = run(action, sender_id, "segunda_via")
        assert messages == [texts.UNKNOWN_NUMBER]


def test_a_number_without_debtor_learns_nothing(db: Database, people: People) -> None:
    with db.session() as s:
        stranger = Conversation(channel=Channel.SMS, address="+5521998765432")
        s.add(stranger)
        s.flush()
        stranger_id = stranger.id
    messages, _ = run(ActionSegundaVia(), str(stranger_id), "segunda_via")
    assert messages == [texts.UNKNOWN_NUMBER]


def test_parar_opts_out_through_the_nlu(db: Database, conversation_id: int, people: People) -> None:
    messages, _ = run(ActionParar(), str(conversation_id), "parar")
    assert messages == [texts.opt_out_confirmed(Channel.WHATSAPP)]
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).opted_out(Channel.WHATSAPP)
        assert s.scalars(select(OptOutEvent.source)).all() == ["nlu"]


def test_falar_atendente_hands_over_once(db: Database, conversation_id: int) -> None:
    messages, _ = run(ActionFalarAtendente(), str(conversation_id), "falar_atendente")
    assert messages[0].startswith("Certo! Uma pessoa da nossa equipe vai continuar este atendimento")
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        assert conversation.state == ConversationState.WAITING_AGENT and conversation.handoff_requested_at
    again, _ = run(ActionFalarAtendente(), str(conversation_id), "falar_atendente")
    assert again == [texts.HANDOFF_ALREADY]


def test_forma_pagamento_needs_no_identity(people: People) -> None:
    messages, _ = run(ActionFormaPagamento(), "123", "forma_pagamento")
    assert messages == [texts.PAYMENT_METHODS]


def _user(intent: str) -> dict[str, Any]:
    return {"event": "user", "parse_data": {"intent": {"name": intent}}}


def test_fallback_asks_to_rephrase_then_offers_a_person() -> None:
    first, _ = run(ActionFallback(), "1", "nlu_fallback", events=[_user("saudacao"), _user("nlu_fallback")])
    assert first == [texts.FALLBACK_REPHRASE]
    second, _ = run(
        ActionFallback(),
        "1",
        "nlu_fallback",
        events=[_user("nlu_fallback"), {"event": "bot"}, _user("nlu_fallback")],
    )
    assert second == [texts.FALLBACK_OFFER_HUMAN]


def test_turn_ids_are_read_defensively() -> None:
    assert turns.Turn.from_ids("12", 34) == turns.Turn(12, 34)
    assert turns.Turn.from_ids("abc", "x") == turns.Turn(None, None)
    assert turns.Turn.from_ids(None, None).today is None


def test_due_dates_are_described_from_the_debtors_today(db: Database, conversation_id: int, settings) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        replies = debts.consultar_divida(s, settings, turns.Turn(conversation_id, today=date(2000, 1, 1)))
    assert "vence em" in replies[0].text and "venceu em" not in replies[0].text


def _parcelas(text: str, span: str, value: str) -> list[dict[str, Any]]:
    start = text.index(span)
    return [{"entity": "parcelas", "start": start, "end": start + len(span), "value": value}]


def test_a_request_for_4x_reaches_the_offer_and_is_honoured(conversation_id: int) -> None:
    text = "da pra parcelar em 4x?"
    said, _ = run(
        ActionRenegociar(),
        str(conversation_id),
        "renegociar",
        text=text,
        entities=_parcelas(text, "4x", "4x"),
    )
    assert any(line.startswith("2) 4x de ") for line in said[0].splitlines())


def test_a_request_beyond_the_policy_says_why_and_offers_the_nearest(conversation_id: int) -> None:
    text = "da pra fazer em 10 vezes?"
    said, _ = run(
        ActionRenegociar(),
        str(conversation_id),
        "renegociar",
        text=text,
        entities=_parcelas(text, "10 vezes", "10x"),
    )
    assert "Não conseguimos em 10x: o máximo é 6x" in said[0]
    assert "A opção mais próxima do que você pediu é em 6x." in said[0]


def test_the_same_request_again_gets_a_short_answer_not_the_same_long_message(conversation_id: int) -> None:
    text = "da pra parcelar em 10x?"
    first, _ = run(
        ActionRenegociar(),
        str(conversation_id),
        "renegociar",
        text=text,
        entities=_parcelas(text, "10x", "10x"),
    )
    again, _ = run(
        ActionRenegociar(),
        str(conversation_id),
        "renegociar",
        text=text,
        entities=_parcelas(text, "10x", "10x"),
    )
    assert again != first
    assert again == [texts.same_options(10, 6)]
    assert len(again[0]) < len(first[0]) / 2


def _data(text: str, span: str) -> list[dict[str, Any]]:
    start = text.index(span)
    return [{"entity": "data", "start": start, "end": start + len(span), "value": span}]


def test_a_promise_to_pay_within_the_policy_is_recorded_with_the_charge_for_that_date(
    db: Database, conversation_id: int
) -> None:
    text = "consigo pagar so amanha, pode ser?"
    said, _ = run(
        ActionPrometerPagamento(),
        str(conversation_id),
        "prometer_pagamento",
        text=text,
        entities=_data(text, "amanha"),
    )
    assert said[0].startswith("Combinado! Registramos o seu compromisso de pagamento para")
    assert any("Pague pelo link:" in line for line in said)
    with db.session() as s:
        assert s.scalars(select(PaymentPromise.status)).one() == PromiseStatus.OPEN


def test_a_promise_beyond_the_policy_offers_the_latest_date_or_an_agreement(
    db: Database, conversation_id: int
) -> None:
    text = "so consigo pagar 25/12/2099"
    said, _ = run(ActionPrometerPagamento(), str(conversation_id), "prometer_pagamento", text=text)
    assert "a data mais distante que podemos aceitar" in said[0] and "quero negociar" in said[0]
    with db.session() as s:
        assert s.scalars(select(PaymentPromise)).all() == []


def test_a_promise_without_a_date_asks_for_one(conversation_id: int) -> None:
    said, _ = run(
        ActionPrometerPagamento(), str(conversation_id), "prometer_pagamento", text="pago sim, prometo"
    )
    assert said == [texts.PROMISE_ASK_DATE]
