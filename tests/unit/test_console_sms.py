"""SMS outside WhatsApp's 24-hour window (bot.console.sms_alternative through bot.console.composer): offered
when the debtor has not opted out of SMS, sent in the debtor's SMS conversation through the delivery path
under the agent, naming the creditor and its CNPJ, once per form, confirmed outside the legal contact
window, and shown in the WhatsApp thread."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot import runtime
from bot.channels import PermanentSendError
from bot.config import Settings
from bot.console import composer, sms_alternative
from bot.console import thread as thread_lib
from bot.db import Database
from bot.models import (
    AuditLog,
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Direction,
    Message,
    MessageStatus,
    User,
    utcnow,
)
from tests.conftest import PHONE, People
from tests.unit.conftest import FakeSender
from tests.unit.console_people import SUNDAY_NIGHT, WEEKDAY_NOON, make_user, save_draft

A_DAY_AND_MORE = timedelta(hours=30)


def _whatsapp_conversation(db: Database, people: People, owner: int, wrote_at: datetime) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WITH_AGENT,
            handoff_reason="asked",
            handoff_requested_at=wrote_at,
            last_inbound_at=wrote_at,
            assigned_user_id=owner,
        )
        s.add(conversation)
        s.flush()
        s.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                body="quero falar com uma pessoa",
                status=MessageStatus.RECEIVED,
            )
        )
        return conversation.id


def _rules(db: Database, settings: Settings, conversation_id: int, now: datetime) -> composer.Rules:
    with db.session() as s:
        return composer.rules(s, settings, s.get_one(Conversation, conversation_id), now)


def _sms(text: str, nonce: str = "n-sms", *, confirmed: bool = False) -> composer.Draft:
    return composer.Draft(nonce, text, via_sms=True, confirmed=confirmed)


def test_outside_the_24_hour_window_the_text_goes_by_sms_naming_the_creditor_and_shows_in_the_thread(
    db: Database, settings: Settings, services: runtime.Services, sender: FakeSender, people: People
) -> None:
    ana = make_user(db)
    conversation_id = _whatsapp_conversation(db, people, ana, WEEKDAY_NOON - A_DAY_AND_MORE)
    rules = _rules(db, settings, conversation_id, WEEKDAY_NOON)
    assert not rules.free_text and rules.sms and not rules.sms_needs_confirmation

    for _ in range(2):  # a double click, or the browser resending the form
        saved = save_draft(
            db, settings, conversation_id, ana, _sms(" Podemos conversar hoje? "), WEEKDAY_NOON
        )
        composer.deliver_now(services, saved.message.conversation_id)
    [request] = sender.sent
    assert request.channel == Channel.SMS and request.to == PHONE and request.content_sid is None
    assert request.body == (
        "Loja Exemplo Ltda (CNPJ 11.222.333/0001-81): Podemos conversar hoje? "
        "Para não receber mais SMS, responda PARAR."
    )
    with db.session() as s:
        message = s.get_one(Message, saved.message.id)
        assert message.sent_by_user_id == ana and message.status == MessageStatus.QUEUED
        sms_conversation = message.conversation
        assert (sms_conversation.channel, sms_conversation.address) == (Channel.SMS, PHONE)
        assert sms_conversation.debtor_id == people.debtor_id
        details = s.scalars(select(AuditLog.details).where(AuditLog.action == "message.sent_by_agent")).all()
        assert [d["channel"] for d in details] == ["sms"]

        thread = thread_lib.load(s, s.get_one(User, ana), conversation_id)
    assert [(i.kind, i.sms_conversation) for i in thread.items] == [
        ("debtor", None),
        ("agent", sms_conversation.id),
    ]
    assert thread.last_message_id == message.id  # the page's polling asks from after the SMS


def test_an_sms_goes_in_the_debtor_s_existing_sms_conversation(
    db: Database, settings: Settings, people: People
) -> None:
    ana = make_user(db)
    with db.session() as s:  # where the régua's SMS reminders went
        reminders = Conversation(channel=Channel.SMS, address=PHONE, debtor_id=people.debtor_id)
        s.add(reminders)
        s.flush()
        reminders_id = reminders.id
    conversation_id = _whatsapp_conversation(db, people, ana, WEEKDAY_NOON - A_DAY_AND_MORE)
    saved = save_draft(db, settings, conversation_id, ana, _sms("Olá"), WEEKDAY_NOON)
    assert saved.message.conversation_id == reminders_id


def test_sms_is_offered_neither_inside_the_window_nor_to_a_debtor_who_opted_out_of_sms(
    db: Database, settings: Settings, people: People
) -> None:
    ana = make_user(db)
    inside = _whatsapp_conversation(db, people, ana, WEEKDAY_NOON - timedelta(hours=3))
    assert not _rules(db, settings, inside, WEEKDAY_NOON).sms
    with pytest.raises(composer.ComposeError, match="SMS não está disponível"):
        save_draft(db, settings, inside, ana, _sms("Olá"), WEEKDAY_NOON)

    with db.session() as s:
        s.get_one(Conversation, inside).last_inbound_at = WEEKDAY_NOON - A_DAY_AND_MORE
        s.get_one(Debtor, people.debtor_id).sms_opted_out_at = WEEKDAY_NOON - timedelta(days=2)
    rules = _rules(db, settings, inside, WEEKDAY_NOON)
    assert not rules.sms and rules.templates  # templates are still there
    with pytest.raises(composer.ComposeError, match="SMS não está disponível"):
        save_draft(db, settings, inside, ana, _sms("Olá", "n2"), WEEKDAY_NOON)
    with db.session() as s:
        assert s.scalars(select(Message).where(Message.channel == Channel.SMS)).all() == []


def test_an_sms_outside_the_legal_contact_window_needs_a_confirmation(
    db: Database, settings: Settings, people: People
) -> None:
    ana = make_user(db)
    conversation_id = _whatsapp_conversation(db, people, ana, SUNDAY_NIGHT - A_DAY_AND_MORE)
    assert _rules(db, settings, conversation_id, SUNDAY_NIGHT).sms_needs_confirmation
    with pytest.raises(composer.ComposeError, match="Confirme"):
        save_draft(db, settings, conversation_id, ana, _sms("Olá"), SUNDAY_NIGHT)
    assert not save_draft(
        db, settings, conversation_id, ana, _sms("Olá", confirmed=True), SUNDAY_NIGHT
    ).duplicate
    with db.session() as s:
        details = s.scalars(select(AuditLog.details).where(AuditLog.action == "message.sent_by_agent")).all()
    assert [d["confirmed_outside_window"] for d in details] == [True]


def test_an_sms_longer_than_allowed_is_refused(db: Database, settings: Settings, people: People) -> None:
    ana = make_user(db)
    conversation_id = _whatsapp_conversation(db, people, ana, WEEKDAY_NOON - A_DAY_AND_MORE)
    too_long = "a" * (sms_alternative.TEXT_MAX_CHARS + 1)
    with pytest.raises(composer.ComposeError, match="passa de"):
        save_draft(db, settings, conversation_id, ana, _sms(too_long), WEEKDAY_NOON)


def test_a_failed_sms_is_sent_again_once_with_the_same_text(
    db: Database, settings: Settings, services: runtime.Services, sender: FakeSender, people: People
) -> None:
    ana = make_user(db)
    now = utcnow()
    conversation_id = _whatsapp_conversation(db, people, ana, now - A_DAY_AND_MORE)
    sender.failures.append(PermanentSendError("not a mobile", code=21614))
    failed = save_draft(db, settings, conversation_id, ana, _sms("Olá", confirmed=True), now).message
    composer.deliver_now(services, failed.conversation_id)
    with db.session() as s:
        item = thread_lib.load(s, s.get_one(User, ana), conversation_id).items[-1]
    assert item.failed and item.sms_conversation == failed.conversation_id
    for _ in range(2):  # a double click on "Tentar de novo", from the WhatsApp conversation's page
        with db.session() as s:
            retried = composer.retry(s, settings, conversation_id, failed.id, s.get_one(User, ana)).message
        composer.deliver_now(services, retried.conversation_id)
    [request] = sender.sent
    assert request.channel == Channel.SMS and request.body == failed.body
