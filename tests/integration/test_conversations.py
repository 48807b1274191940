"""Whole conversations through the real stack: signed webhook -> web app -> worker -> Rasa -> action
server -> reply stored by the sandbox channel. Each test has its own debtor and phone number, so the
tests share the running stack without depending on each other's order."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import func, select

from bot import optout, texts
from bot.conversation import chat
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Direction,
    Message,
    MessageStatus,
    Processing,
)
from bot.phones import Address
from tests.integration.conftest import LINE, PIX, Stack, new_debtor, new_mobile, say

pytestmark = pytest.mark.integration


def _outbound_count(db: Database, phone: str) -> int:
    with db.session() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Message)
                .join(Conversation)
                .where(Conversation.address == phone, Message.direction == Direction.OUTBOUND)
            )
            or 0
        )


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
def test_segunda_via(stack: Stack, channel: str) -> None:
    _, phone = new_debtor(stack.database)
    exchange = say(stack, phone, "kd o boleto desse mes? preciso pagar hj", channel=channel)
    assert exchange.processing == Processing.DONE
    joined = "\n".join(exchange.texts)
    assert "Loja Integração Ltda (CNPJ" in joined and "R$ 259,90" in joined
    assert PIX in exchange.texts and LINE in exchange.texts  # each code alone, ready to copy
    assert all(r.status == MessageStatus.STORED for r in exchange.replies)
    if channel == "sms":
        assert all(len(t) <= stack.settings.sms_part_max_chars for t in exchange.texts)


def test_opt_out_by_keyword_then_back_in(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    exchange = say(stack, phone, "PARAR")
    assert exchange.texts == [texts.opt_out_confirmed(Channel.WHATSAPP)]
    time.sleep(2)  # nothing else goes out after the confirmation
    assert _outbound_count(stack.database, phone) == 1
    with stack.database.session() as s:
        debtor = s.get_one(Debtor, debtor_id)
        assert optout.is_opted_out(s, Channel.WHATSAPP, phone, debtor)
        assert not optout.is_opted_out(s, Channel.SMS, phone, debtor)
    exchange = say(stack, phone, "voltar")
    assert exchange.texts == [texts.opt_in_confirmed(Channel.WHATSAPP)]
    with stack.database.session() as s:
        assert not optout.is_opted_out(s, Channel.WHATSAPP, phone, s.get_one(Debtor, debtor_id))


def test_opt_out_by_free_text_goes_through_the_nlu(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    exchange = say(
        stack, phone, "por favor parem de me mandar essas mensagens de cobrança, nao quero receber mais nada"
    )
    assert exchange.texts == [texts.opt_out_confirmed(Channel.WHATSAPP)]
    time.sleep(2)
    assert _outbound_count(stack.database, phone) == 1
    with stack.database.session() as s:
        assert s.get_one(Debtor, debtor_id).opted_out(Channel.WHATSAPP)


def test_unknown_number_learns_nothing(stack: Stack) -> None:
    phone = new_mobile()
    exchange = say(stack, phone, "quanto eu devo? manda o boleto")
    assert exchange.texts == [texts.UNKNOWN_NUMBER]


def test_wrong_or_missing_signature_is_refused(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    form = chat.inbound_form(stack.settings, Address("whatsapp", phone), "oi")
    assert chat.post(stack.settings, stack.web_url, chat.MESSAGES_PATH, form, signed=False).status_code == 403
    forged = requests.post(
        f"{stack.web_url}{chat.MESSAGES_PATH}",
        data=form,
        headers={"X-Twilio-Signature": "Zm9yZ2Vk"},
        timeout=10,
    )
    assert forged.status_code == 403
    with stack.database.session() as s:
        assert s.scalar(select(Message).where(Message.provider_sid == form["MessageSid"])) is None


def test_the_same_message_sid_three_times_gets_one_reply(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    sid = chat.new_sid()
    results = [say(stack, phone, "oi, bom dia", sid=sid) for _ in range(3)]
    assert len(results[-1].replies) == 1
    time.sleep(2)
    assert _outbound_count(stack.database, phone) == 1


def test_rasa_stopped_mid_conversation(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    assert say(stack, phone, "bom dia").texts  # the conversation is going
    stack.stop("rasa")
    try:
        during = say(stack, phone, "manda o pix pfv", timeout=15)
        assert during.texts == [texts.OUTAGE_NOTICE]
        assert during.processing == Processing.PENDING
        second = say(stack, phone, "e o boleto tb", timeout=5)
        assert second.replies == []  # one notice per outage; it waits its turn
    finally:
        stack.start("rasa")
    # Answered after the restart, in order, without the debtor writing again.
    with stack.database.session() as s:
        held = s.scalars(select(Message).where(Message.body.in_(["manda o pix pfv", "e o boleto tb"]))).all()
        sids = {m.body: m.provider_sid for m in held}
    # Retries back off up to 60 s; a Rasa just started may time out its first turns on a loaded machine.
    after = chat.replies_to(stack.database, sids["manda o pix pfv"], timeout=180)
    assert after.processing == Processing.DONE and PIX in after.texts
    later = chat.replies_to(stack.database, sids["e o boleto tb"], timeout=60)
    assert later.processing == Processing.DONE and later.replies
    assert later.replies[0].id > after.replies[-1].id


def test_status_callbacks_out_of_order(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    reply = say(stack, phone, "oi").replies[0]
    for state in ("delivered", "sent", "read", "queued"):
        form = {"MessageSid": reply.provider_sid, "MessageStatus": state}
        assert chat.post(stack.settings, stack.web_url, chat.STATUS_PATH, form).status_code == 200
    unknown = {"MessageSid": chat.new_sid(), "MessageStatus": "delivered"}
    assert chat.post(stack.settings, stack.web_url, chat.STATUS_PATH, unknown).status_code == 200
    with stack.database.session() as s:
        message = s.get_one(Message, reply.id)
        assert message.status == MessageStatus.READ and message.read_at and message.delivered_at


def test_handoff_then_silence(stack: Stack) -> None:
    _, phone = new_debtor(stack.database)
    exchange = say(stack, phone, "quero falar com um atendente humano, nao com robo")
    assert exchange.texts and exchange.texts[0].startswith("Certo! Uma pessoa da nossa equipe")
    with stack.database.session() as s:
        conversation = s.scalars(select(Conversation).where(Conversation.address == phone)).one()
        assert conversation.state == ConversationState.WAITING_AGENT
    quiet = say(stack, phone, "oi? alguem ai? manda o boleto")
    assert quiet.processing == Processing.FOR_AGENT and quiet.replies == []
    time.sleep(2)
    assert _outbound_count(stack.database, phone) == 1
