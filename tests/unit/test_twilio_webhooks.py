"""The Twilio webhooks: signatures, idempotency, saving first, rate limits, status callbacks."""

from __future__ import annotations

import time
from datetime import timedelta

import redis
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from bot import texts
from bot.config import Settings, override
from bot.conversation import chat, loop, receive, sweep_schedule
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    Debtor,
    Direction,
    Message,
    MessageStatus,
    OptOutEvent,
    Processing,
    utcnow,
)
from bot.rasa.client import BotMessage
from tests.conftest import OLD_WHATSAPP_ID, PHONE, People
from tests.unit.conftest import failing_statements, post_message
from webhooks import create_app


def _count(db: Database, *where) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Message).where(*where)) or 0


def test_a_signed_message_is_saved_answered_inline_and_acknowledged_with_empty_twiml(
    app: Flask, settings: Settings, db: Database, people: People, redis_conn: redis.Redis, sender
) -> None:  # type: ignore[no-untyped-def]
    response, form = post_message(app, settings, "kd o boleto?")
    assert response.status_code == 200
    assert response.mimetype == "text/xml" and b"<Response" in response.data
    with db.session() as s:
        message = s.scalars(select(Message).where(Message.direction == Direction.INBOUND)).one()
        assert message.provider_sid == form["MessageSid"]
        assert message.body == "kd o boleto?"
        assert message.processing == Processing.DONE
        conversation = message.conversation
        assert conversation.channel == Channel.WHATSAPP and conversation.address == PHONE
        assert conversation.debtor_id == people.debtor_id
        assert conversation.our_address == form["To"]
        assert conversation.debtor.whatsapp_id == PHONE.removeprefix("+")
    # Answered in the request (through the REST API), so nothing was left for the workers.
    assert [r.body for r in sender.sent] == ["eco: kd o boleto?"]
    assert sender.sent[0].from_ == form["To"]
    assert Queue(sweep_schedule.DEFAULT_QUEUE, connection=redis_conn).jobs == []


def test_when_rasa_is_down_the_message_waits_for_the_workers(
    app: Flask, settings: Settings, db: Database, people: People, fake_rasa, later, sender
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.down = True
    _, form = post_message(app, settings, "manda o pix")
    exchange = chat.replies_to(db, form["MessageSid"], timeout=0)
    assert exchange.processing == Processing.PENDING  # kept for reprocessing
    assert exchange.texts == [texts.OUTAGE_NOTICE]
    assert later.processes and later.processes[-1][1] is not None  # a retry is scheduled


def test_replies_the_budget_leaves_no_time_for_go_to_the_workers_in_order(
    app: Flask,
    settings: Settings,
    db: Database,
    people: People,
    fake_rasa,
    later,
    sender,
    services,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(receive, "INLINE_BUDGET_SECONDS", 0.5)
    fake_rasa.answer = lambda _s, _t, _m: [BotMessage(text=f"parte {n}") for n in (1, 2, 3)]
    send = sender.send

    def slow_send(request):  # type: ignore[no-untyped-def]
        time.sleep(0.6)  # a slow provider: the first send ends after the budget
        return send(request)

    monkeypatch.setattr(sender, "send", slow_send)
    _, form = post_message(app, settings, "manda tudo")
    assert [r.body for r in sender.sent] == ["parte 1"]  # started inside the budget
    with db.session() as s:
        conversation_id = s.scalar(
            select(Message.conversation_id).where(Message.provider_sid == form["MessageSid"])
        )
    assert later.deliveries == [(conversation_id, None)]  # the rest: a delivery job, due now
    assert _count(db, Message.status == MessageStatus.PENDING, Message.next_attempt_at.is_not(None)) == 2
    monkeypatch.setattr(sender, "send", send)
    loop.send_now(services, conversation_id)  # the worker's job
    assert [r.body for r in sender.sent] == ["parte 1", "parte 2", "parte 3"]


def test_missing_or_wrong_signature_is_403_and_nothing_is_saved(
    app: Flask, settings: Settings, db: Database, caplog
) -> None:  # type: ignore[no-untyped-def]
    form = chat.inbound_form(settings, chat.Address("whatsapp", PHONE), "segredo do devedor")
    client = app.test_client()
    assert client.post(chat.MESSAGES_PATH, data=form).status_code == 403
    bad = {"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, {**form, "Body": "outro"})}
    assert client.post(chat.MESSAGES_PATH, data=form, headers=bad).status_code == 403
    assert (
        client.post(chat.STATUS_PATH, data={"MessageSid": "SMx", "MessageStatus": "sent"}).status_code == 403
    )
    assert _count(db) == 0
    assert "rejected" in caplog.text and "segredo" not in caplog.text  # logged, without the body


def test_signature_is_checked_against_the_public_url_behind_a_proxy(
    settings: Settings, db: Database, people: People
) -> None:
    behind_proxy = override(settings, public_base_url="https://regua.example.com.br")
    app = create_app(behind_proxy)
    response, _ = post_message(app, behind_proxy, "oi")
    assert response.status_code == 200
    # The same request signed for the internal address does not pass.
    form = chat.inbound_form(settings, chat.Address("whatsapp", PHONE), "oi")
    signed_inside = {"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, form)}
    assert app.test_client().post(chat.MESSAGES_PATH, data=form, headers=signed_inside).status_code == 403


def test_the_same_message_sid_three_times_is_saved_and_answered_once(
    app: Flask, settings: Settings, db: Database, people: People, sender
) -> None:  # type: ignore[no-untyped-def]
    sid = chat.new_sid()
    for _ in range(3):
        response, _ = post_message(app, settings, "manda o pix", sid=sid)
        assert response.status_code == 200
    assert _count(db, Message.provider_sid == sid) == 1
    assert [r.body for r in sender.sent] == ["eco: manda o pix"]


def test_an_old_whatsapp_id_without_the_ninth_digit_finds_the_debtor(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    post_message(app, settings, "oi", phone=OLD_WHATSAPP_ID)
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.address == OLD_WHATSAPP_ID  # answered at the id it wrote from
        assert conversation.debtor_id == people.debtor_id


def test_sms_and_media_are_stored_with_the_message(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    media = [("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1", "image/jpeg")]
    post_message(app, settings, "segue o comprovante", channel="sms", media=media)
    with db.session() as s:
        message = s.scalars(select(Message).where(Message.direction == Direction.INBOUND)).one()
        assert message.channel == Channel.SMS
        assert message.media == [{"url": media[0][0], "content_type": "image/jpeg"}]


def test_malformed_forms_get_a_clear_400_and_automated_senders_are_ignored(
    app: Flask, settings: Settings, db: Database
) -> None:
    client = app.test_client()
    form = {"From": "whatsapp:+5511987654321", "Body": "oi"}
    signed = {"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, form)}
    response = client.post(chat.MESSAGES_PATH, data=form, headers=signed)
    assert response.status_code == 400 and "MessageSid" in response.get_json()["message"]
    short_code = {"MessageSid": chat.new_sid(), "From": "VIVO", "To": "+5511999990000", "Body": "Promo!"}
    signed = {"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, short_code)}
    assert client.post(chat.MESSAGES_PATH, data=short_code, headers=signed).status_code == 200
    assert _count(db) == 0


def test_a_flood_from_one_number_is_stored_but_not_answered(
    settings: Settings, db: Database, people: People, redis_conn: redis.Redis, services, sender
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(override(settings, inbound_rate_limit="3/minute"))
    app.extensions["regua_services"] = services
    for n in range(5):
        post_message(app, override(settings, inbound_rate_limit="3/minute"), f"msg {n}")
    post_message(app, settings, "oi", phone="+5521998765432")  # another number is not affected
    assert _count(db, Message.direction == Direction.INBOUND) == 6
    assert _count(db, Message.processing_note == "rate_limited") == 2
    assert len(sender.sent) == 4


def test_redis_down_answers_inline(
    settings: Settings, db: Database, people: People, services, sender
) -> None:  # type: ignore[no-untyped-def]
    down = override(settings, redis_url="redis://127.0.0.1:1/0")
    app = create_app(down)
    app.extensions["regua_services"] = services
    response, form = post_message(app, down, "oi")
    assert response.status_code == 200
    exchange = chat.replies_to(db, form["MessageSid"], timeout=0)
    assert exchange.processing == Processing.DONE
    assert exchange.texts == ["eco: oi"] and len(sender.sent) == 1


def _outbound(db: Database, people: People, sid: str = "SMout1") -> int:
    with db.session() as s:
        conversation = Conversation(channel=Channel.SMS, address=PHONE, debtor_id=people.debtor_id)
        message = Message(
            conversation=conversation,
            direction=Direction.OUTBOUND,
            channel=Channel.SMS,
            provider_sid=sid,
            body="x",
            status=MessageStatus.QUEUED,
        )
        s.add(message)
        s.flush()
        return message.id


def _status(app: Flask, settings: Settings, **form: str):  # type: ignore[no-untyped-def]
    headers = {"X-Twilio-Signature": chat.signature(settings, chat.STATUS_PATH, form)}
    return app.test_client().post(chat.STATUS_PATH, data=form, headers=headers)


def test_status_callbacks_only_move_forward_even_out_of_order(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    message_id = _outbound(db, people)
    for state in ("delivered", "sent", "queued", "read", "delivered"):
        assert _status(app, settings, MessageSid="SMout1", MessageStatus=state).status_code == 200
    with db.session() as s:
        message = s.get_one(Message, message_id)
        assert message.status == MessageStatus.READ
        assert message.sent_at and message.delivered_at and message.read_at


def test_unsubscribed_error_opts_the_number_out(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    message_id = _outbound(db, people)
    _status(app, settings, MessageSid="SMout1", MessageStatus="undelivered", ErrorCode="21610")
    with db.session() as s:
        message = s.get_one(Message, message_id)
        assert message.status == MessageStatus.UNDELIVERED and message.error_code == 21610
        assert message.conversation.debtor.opted_out(Channel.SMS)
        assert s.scalars(select(OptOutEvent.source)).all() == ["provider_error"]


def test_unknown_sids_are_logged_and_answered_200(app: Flask, settings: Settings, caplog) -> None:  # type: ignore[no-untyped-def]
    assert _status(app, settings, MessageSid="SMnobody", MessageStatus="sent").status_code == 200
    assert "unknown message SID SMnobody" in caplog.text


def test_oversized_requests_are_refused(app: Flask, settings: Settings, db: Database) -> None:
    form = chat.inbound_form(settings, chat.Address("whatsapp", PHONE), "x" * 300_000)
    headers = {"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, form)}
    assert app.test_client().post(chat.MESSAGES_PATH, data=form, headers=headers).status_code == 413
    assert _count(db) == 0


def test_a_conversation_another_process_holds_is_not_taken_until_its_lease_expires(
    app: Flask, settings: Settings, db: Database, people: People, later, sender
) -> None:  # type: ignore[no-untyped-def]
    post_message(app, settings, "oi")
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()
        conversation.lease_owner = "worker-1"
        conversation.lease_expires_at = utcnow() + timedelta(seconds=30)
        conversation_id = conversation.id
    sender.sent.clear()

    post_message(app, settings, "quanto devo?")
    # Saved, not answered here: the holder (or a worker, handed the conversation) answers it in order.
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).lease_owner == "worker-1"
        pending = s.scalars(select(Message).where(Message.processing == Processing.PENDING)).one()
        assert pending.body == "quanto devo?"
    assert sender.sent == [] and later.processes == [(conversation_id, None)]

    with db.session() as s:  # the holder died: its lease runs out
        s.get_one(Conversation, conversation_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    post_message(app, settings, "e o boleto?")
    assert [r.body for r in sender.sent] == ["eco: quanto devo?", "eco: e o boleto?"]  # in order
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).lease_owner is None


def test_the_whatsapp_id_is_recorded_once_for_a_debtor_already_linked(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    # A reminder created the conversation, linked to the debtor, before the debtor ever wrote.
    with db.session() as s:
        s.add(Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id))
    post_message(app, settings, "oi")
    with db.session() as s:
        debtor = s.get_one(Debtor, people.debtor_id)
        assert debtor.whatsapp_id == PHONE.removeprefix("+")
        debtor.whatsapp_id = "5511900000000"  # e.g. set by an import; a message never overwrites it
    post_message(app, settings, "tudo bem?")
    with db.session() as s:
        assert s.get_one(Debtor, people.debtor_id).whatsapp_id == "5511900000000"


def test_a_message_that_cannot_be_looked_at_inline_is_saved_for_the_workers(
    app: Flask, settings: Settings, db: Database, people: People, later, sender, caplog
) -> None:  # type: ignore[no-untyped-def]
    photo = [("https://api.twilio.com/m/ME1", "image/jpeg")]
    # A photo alone is looked at against the debtor's open payment claims: that look fails (a bug).
    with failing_statements(db, "FROM cases") as failed:
        response, form = post_message(app, settings, "", media=photo)
    assert response.status_code == 200 and len(failed) == 1
    with db.session() as s:
        message = s.scalars(select(Message).where(Message.provider_sid == form["MessageSid"])).one()
        assert message.processing == Processing.PENDING and message.media
        conversation_id = message.conversation_id
        lease_owner = s.get_one(Conversation, conversation_id).lease_owner
    assert lease_owner is None  # the failed claim was rolled back with the look
    assert later.processes == [(conversation_id, None)]  # a worker tries again
    assert sender.sent == [] and "could not be looked at inline" in caplog.text


def test_a_conversation_created_by_another_request_at_the_same_moment_is_used_not_duplicated(
    app: Flask, settings: Settings, db: Database, people: People, sender, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from bot.conversation import identity

    find_debtor = identity.find_debtor

    def created_meanwhile(session, e164, wa_id=None):  # type: ignore[no-untyped-def]
        # Between this request's UPDATE (no row yet) and its INSERT, the twin request creates the row.
        session.execute(insert(Conversation).values(channel=Channel.WHATSAPP, address=PHONE))
        return find_debtor(session, e164)

    monkeypatch.setattr(identity, "find_debtor", created_meanwhile)
    response, form = post_message(app, settings, "oi")
    assert response.status_code == 200
    with db.session() as s:
        conversation = s.scalars(select(Conversation)).one()  # one row: the INSERT gave way
        assert conversation.debtor_id == people.debtor_id  # linked all the same
    assert chat.replies_to(db, form["MessageSid"], timeout=0).texts == ["eco: oi"]
