"""What debtors ask for, honoured over the real stack (web app, worker, Rasa with the trained model, action
server): an instalment count, a promise to pay on a date, a complaint that is not a dispute."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import texts
from bot.models import (
    Case,
    CaseKind,
    Conversation,
    ConversationState,
    Invoice,
    PaymentPromise,
    PromiseStatus,
)
from tests.integration.conftest import Stack, new_debtor, say

pytestmark = pytest.mark.integration


def test_an_instalment_count_is_honoured_or_refused_with_the_nearest_and_not_repeated(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    four = say(stack, phone, "da pra parcelar em 4x?")
    assert "2) 4x de " in four.texts[0], four.texts
    ten = say(stack, phone, "e em 10x da pra fazer?")
    assert "Não conseguimos em 10x" in ten.texts[0] and "A opção mais próxima" in ten.texts[0], ten.texts
    again = say(stack, phone, "e em 10x da pra fazer?")
    assert again.texts == [texts.same_options(10, 6)], again.texts


def test_a_promise_to_pay_on_a_date_is_recorded_charged_and_pauses_reminders(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    promised_on = date.today() + timedelta(days=5)
    exchange = say(stack, phone, f"consigo pagar so {promised_on:%d/%m}, pode ser?")
    assert exchange.texts[0].startswith("Combinado! Registramos"), exchange.texts
    assert "Pague pelo link:" in exchange.texts[1]
    with stack.database.session() as s:
        promise = s.scalars(select(PaymentPromise).where(PaymentPromise.debtor_id == debtor_id)).one()
        assert (promise.status, promise.promised_on) == (PromiseStatus.OPEN, promised_on)
        invoice = s.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)).one()
        assert invoice.pause_reason == "promise" and invoice.collection_paused_until is not None
    too_far = date.today() + timedelta(days=40)
    refused = say(stack, phone, f"na verdade so consigo pagar {too_far:%d/%m/%Y}")
    assert "a data mais distante que podemos aceitar" in refused.texts[0], refused.texts


def test_a_procon_threat_goes_to_a_person_while_a_real_dispute_still_opens_one(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    threat = say(stack, phone, "se continuar me cobrando vou no procon")
    assert threat.texts[0].startswith("Sentimos muito pelo transtorno"), threat.texts
    with stack.database.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.debtor_id == debtor_id)).one()
        assert conversation.state == ConversationState.WAITING_AGENT
        assert conversation.handoff_reason == "legal_threat"
        assert s.scalars(select(Case).where(Case.debtor_id == debtor_id)).all() == []
        assert s.scalars(select(Invoice.pause_reason).where(Invoice.debtor_id == debtor_id)).one() is None
    other_id, other_phone = new_debtor(stack.database)
    dispute = say(stack, other_phone, "eu nunca comprei nada nessa loja, nao reconheco essa cobranca")
    assert dispute.texts[0].startswith("Entendi. Registramos a sua contestação"), dispute.texts
    with stack.database.session() as s:
        assert s.scalars(select(Case).where(Case.debtor_id == other_id)).one().kind == CaseKind.DISPUTE
