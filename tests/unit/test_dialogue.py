"""Answering a conversation: keywords before NLU, silence during handoff, outages, order, identity checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from bot import runtime, texts
from bot.answers import debts, turns
from bot.channels import PermanentSendError, RetryableSendError
from bot.config import Settings, override
from bot.conversation import chat, claiming, loop
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Direction,
    Message,
    MessageStatus,
    OptOutAction,
    OptOutEvent,
    Processing,
    utcnow,
)
from bot.rasa.client import BotMessage
from tests.conftest import CPF, People
from tests.unit.conftest import FakeRasa, FakeSender, RecordingLater, failing_statements, post_message


def _say(app: Flask, settings: Settings, services: runtime.Services, body: str, **kwargs) -> chat.Exchange:  # type: ignore[no-untyped-def]
    """Post a message and process its conversation (what the worker does); return the exchange."""
    _, form = post_message(app, settings, body, **kwargs)
    with services.database.session() as s:
        conversation_id = s.scalar(
            select(Message.conversation_id).where(Message.provider_sid == form["MessageSid"])
        )
    loop.process_conversation(services, conversation_id)
    return chat.replies_to(services.database, form["MessageSid"], timeout=0)


def _pending(db: Database, body: str) -> int:
    """Save an inbound message without answering it (as the webhook does before it answers); returns its
    conversation id."""
    from bot.conversation import inbound
    from bot.phones import parse_address

    with db.session() as s:
        stored = inbound.store(
            s,
            inbound.Inbound(
                sid=chat.new_sid(), sender=parse_address("whatsapp:+5511987654321"), to="", body=body
            ),
        )
    return stored.conversation_id


def _conversation(db: Database) -> Conversation:
    with db.session() as s:
        return s.scalars(select(Conversation)).one()


@pytest.mark.parametrize(
    "keyword", ["PARAR", "parar.", "Pare 🙏", "STOP", "  Cancelar!! ", "descadastrar", "SAIR"]
)
def test_opt_out_keywords_skip_the_nlu_and_confirm_once(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, people: People, keyword: str
) -> None:  # type: ignore[no-untyped-def]
    exchange = _say(app, settings, services, keyword)
    assert exchange.texts == [texts.opt_out_confirmed(Channel.WHATSAPP)]
    assert fake_rasa.calls == []
    with services.database.session() as s:
        assert s.get_one(Debtor, people.debtor_id).opted_out(Channel.WHATSAPP)
        assert not s.get_one(Debtor, people.debtor_id).opted_out(Channel.SMS)
        event = s.scalars(select(OptOutEvent)).one()
        assert (event.action, event.source, event.channel) == (
            OptOutAction.OPT_OUT,
            "keyword",
            Channel.WHATSAPP,
        )


def test_voltar_opts_back_in(app: Flask, settings: Settings, services, people: People) -> None:  # type: ignore[no-untyped-def]
    _say(app, settings, services, "parar")
    exchange = _say(app, settings, services, "Voltar")
    assert exchange.texts == [texts.opt_in_confirmed(Channel.WHATSAPP)]
    with services.database.session() as s:
        debtor = s.get_one(Debtor, people.debtor_id)
        assert not debtor.opted_out(Channel.WHATSAPP) and debtor.has_consent(Channel.WHATSAPP)
        assert s.scalars(select(OptOutEvent.action).order_by(OptOutEvent.id)).all() == [
            OptOutAction.OPT_OUT,
            OptOutAction.OPT_IN,
        ]


def test_a_sentence_with_a_keyword_inside_goes_to_the_nlu(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, people: People
) -> None:  # type: ignore[no-untyped-def]
    exchange = _say(app, settings, services, "como faço pra parar de pagar juros?")
    assert exchange.texts == ["eco: como faço pra parar de pagar juros?"]
    _, _, metadata = fake_rasa.calls[0]
    assert metadata["channel"] == "whatsapp" and metadata["debtor_id"] == people.debtor_id


def test_while_with_an_agent_the_bot_is_silent_and_messages_are_kept(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, people: People, db: Database
) -> None:  # type: ignore[no-untyped-def]
    _say(app, settings, services, "oi")
    with db.session() as s:
        s.execute(update(Conversation).values(state=ConversationState.WAITING_AGENT))
    exchange = _say(app, settings, services, "alguem ai?")
    assert exchange.processing == Processing.FOR_AGENT and exchange.replies == []
    assert [c[1] for c in fake_rasa.calls] == ["oi"]


def test_rasa_down_sends_one_polite_notice_keeps_order_and_answers_after_recovery(
    app: Flask,
    settings: Settings,
    services,
    fake_rasa: FakeRasa,
    later: RecordingLater,
    db: Database,
    people: People,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.down = True
    first = _say(app, settings, services, "primeira")
    second = _say(app, settings, services, "segunda")
    assert first.texts == [texts.OUTAGE_NOTICE]  # one notice per outage, not per message
    assert second.texts == [] and second.processing == Processing.PENDING
    assert later.processes and later.processes[-1][1] is not None  # a retry is scheduled

    fake_rasa.down = False
    with db.session() as s:  # the retry time comes
        s.execute(update(Message).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    loop.process_conversation(services, _conversation(db).id)
    assert [c[1] for c in fake_rasa.calls] == ["primeira", "segunda"]  # in the order they were sent
    with db.session() as s:
        bodies = s.scalars(
            select(Message.body).where(Message.direction == Direction.OUTBOUND).order_by(Message.id)
        ).all()
        assert bodies == [texts.OUTAGE_NOTICE, "eco: primeira", "eco: segunda"]
        assert s.scalars(select(Conversation)).one().outage_notice_at is None


def test_a_message_answered_without_nlu_after_the_deadline_has_its_replies_delivered_later(
    services, later: RecordingLater, sender: FakeSender, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    import time

    conversation_id = _pending(db, "PARAR")
    with db.session() as s:
        lease = claiming.claim(services, s, conversation_id)  # the look answers it and claims the reply
    assert lease.held and lease.step is not None and lease.step.claimed
    assert loop.answer_inline(services, conversation_id, time.monotonic() - 1, lease).left is False
    assert sender.sent == []  # nothing is sent after the deadline...
    with db.session() as s:
        reply = s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
        assert reply.status == MessageStatus.PENDING  # ...and the claimed reply is not left `sending`
        assert s.get_one(Conversation, conversation_id).lease_owner is None
    assert later.deliveries == [(conversation_id, None)]  # a delivery job sends it at once
    loop.send_now(services, conversation_id)
    assert [r.body for r in sender.sent] == [reply.body]


def test_a_failure_looking_at_the_next_message_keeps_the_record_of_the_replies_already_sent(
    services, sender: FakeSender, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    conversation_id = _pending(db, "primeira")
    _pending(db, "segunda")
    # Each look reads the reply-loop counts (count(DISTINCT ...)); the second look fails there.
    with pytest.raises(RuntimeError), failing_statements(db, "count(distinct", skip=1) as failed:
        loop.process_conversation(services, conversation_id)
    assert len(failed) == 1
    assert [r.body for r in sender.sent] == ["eco: primeira"]
    with db.session() as s:
        reply = s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
        assert reply.provider_sid is not None and reply.status == MessageStatus.QUEUED  # recorded
        assert s.get_one(Conversation, conversation_id).lease_owner is None  # let go
        second = s.scalars(select(Message).where(Message.body == "segunda")).one()
        assert second.processing == Processing.PENDING  # kept for a retry
    assert loop.process_conversation(services, conversation_id) is True
    assert [r.body for r in sender.sent] == ["eco: primeira", "eco: segunda"]


def test_only_one_processor_works_on_a_conversation_at_a_time(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    conversation_id = _pending(db, "oi")
    with db.session() as s:
        other = claiming.claim(services, s, conversation_id)
    assert other.held and other.step is not None and other.step.rasa_text == "oi"
    with db.session() as s:
        assert not claiming.claim(services, s, conversation_id).held  # taken
    assert loop.process_conversation(services, conversation_id) is False
    assert fake_rasa.calls == []
    claiming.let_go(db, conversation_id, other.owner)
    assert claiming.has_ready_message(db, conversation_id)  # still to answer
    assert loop.process_conversation(services, conversation_id) is True
    assert [c[1] for c in fake_rasa.calls] == ["oi"]


def test_an_automated_sender_repeating_itself_stops_getting_answers(
    app: Flask, settings: Settings, services, people: People
) -> None:  # type: ignore[no-untyped-def]
    results = [_say(app, settings, services, "Mensagem automática: não responda") for _ in range(4)]
    assert [len(r.replies) for r in results] == [1, 1, 0, 0]
    assert results[-1].processing == Processing.IGNORED


def test_a_worker_applies_the_same_reply_loop_guard_as_the_webhook(
    services, db: Database, sender: FakeSender, people: People
) -> None:  # type: ignore[no-untyped-def]
    # Saved while nobody answered (e.g. Rasa was down): a worker looks at them without the webhook's
    # facts, and reads the same counts itself (only earlier messages count).
    conversation_id = _pending(db, "Mensagem automática: não responda")
    for _ in range(3):
        _pending(db, "Mensagem automática: não responda")
    assert loop.process_conversation(services, conversation_id) is True
    assert len(sender.sent) == 2
    with db.session() as s:
        notes = s.scalars(
            select(Message.processing_note).where(Message.direction == Direction.INBOUND).order_by(Message.id)
        ).all()
    assert notes == [None, None, "reply_loop", "reply_loop"]


def test_a_photo_without_text_is_acknowledged(
    app: Flask, settings: Settings, services, people: People
) -> None:  # type: ignore[no-untyped-def]
    exchange = _say(app, settings, services, "", media=[("https://api.twilio.com/m/ME1", "image/jpeg")])
    assert exchange.texts == [texts.MEDIA_RECEIVED]


def test_long_sms_replies_are_split(
    app: Flask, settings: Settings, services, fake_rasa: FakeRasa, people: People
) -> None:  # type: ignore[no-untyped-def]
    long_text = " ".join(["Esta é uma resposta longa."] * 60)
    fake_rasa.answer = lambda *_: [BotMessage(text=long_text)]
    exchange = _say(app, settings, services, "quanto devo", channel="sms")
    assert len(exchange.replies) > 1
    assert all(len(r.body) <= settings.sms_part_max_chars for r in exchange.replies)
    assert " ".join(r.body for r in exchange.replies) == long_text


def test_provider_errors_retry_later_or_fail_for_good(
    app: Flask,
    settings: Settings,
    services,
    sender: FakeSender,
    later: RecordingLater,
    db: Database,
    people: People,
) -> None:  # type: ignore[no-untyped-def]
    sender.failures = [RetryableSendError("Twilio 503", status=503)]
    exchange = _say(app, settings, services, "oi")
    assert [r.status for r in exchange.replies] == [MessageStatus.PENDING]
    assert later.deliveries and later.deliveries[-1][1] is not None
    with db.session() as s:
        s.execute(update(Message).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    loop.send_now(services, _conversation(db).id)
    assert [m.body for m in sender.sent] == ["eco: oi"]

    sender.failures = [PermanentSendError("Twilio 400, code 21610", code=21610, status=400)]
    exchange = _say(app, settings, services, "oi de novo")
    assert [(r.status, r.error_code) for r in exchange.replies] == [(MessageStatus.FAILED, 21610)]
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).opted_out(Channel.WHATSAPP)


def _as_action(handler):  # type: ignore[no-untyped-def]
    """What the real action server does for an intent: call the bot.answers handler."""

    def answer(sender_id: str, _text: str, metadata: dict) -> list[BotMessage]:
        return [BotMessage(text=r.text) for r in turns.respond(handler, sender_id, metadata)]

    return answer


@pytest.fixture
def cpf_check(settings: Settings, services, app: Flask) -> Settings:  # type: ignore[no-untyped-def]
    strict = override(settings, identity_check="cpf")
    services.settings = strict
    return strict


def test_with_cpf_check_the_debt_is_shown_only_after_the_right_digits(
    app: Flask, cpf_check: Settings, services, fake_rasa: FakeRasa, db: Database, people: People, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.answers.turns.get_settings", lambda: cpf_check)
    monkeypatch.setattr("bot.answers.turns.get_database", lambda _url: db)
    fake_rasa.answer = _as_action(debts.segunda_via)
    asked = _say(app, cpf_check, services, "manda o boleto")
    assert asked.texts == [texts.VERIFY_ASK]
    wrong = _say(app, cpf_check, services, "999")
    assert wrong.texts == [texts.VERIFY_WRONG]
    right = _say(app, cpf_check, services, CPF[:3])
    assert right.texts == [texts.verify_ok("Maria")]
    # The held request is answered right after, with the debt.
    with db.session() as s:
        held = s.scalar(select(Message).where(Message.body == "manda o boleto"))
        replies = s.scalars(
            select(Message.body).where(Message.in_reply_to_id == held.id).order_by(Message.id)
        ).all()
    assert replies[0] == texts.VERIFY_ASK
    assert any("Loja Exemplo Ltda (CNPJ 11.222.333/0001-81)" in body for body in replies[1:])


def test_three_wrong_answers_lock_the_conversation(
    app: Flask, cpf_check: Settings, services, fake_rasa: FakeRasa, db: Database, people: People, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.answers.turns.get_settings", lambda: cpf_check)
    monkeypatch.setattr("bot.answers.turns.get_database", lambda _url: db)
    fake_rasa.answer = _as_action(debts.consultar_divida)
    _say(app, cpf_check, services, "quanto eu devo?")
    outcomes = [_say(app, cpf_check, services, digits).texts for digits in ("111", "222", "333")]
    assert outcomes == [[texts.VERIFY_WRONG], [texts.VERIFY_WRONG], [texts.VERIFY_LOCKED]]
    again = _say(app, cpf_check, services, "quanto eu devo?")
    assert again.texts == [texts.VERIFY_LOCKED]
    assert not any("R$" in t for t in again.texts)
