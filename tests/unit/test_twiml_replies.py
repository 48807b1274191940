"""Replies in the webhook's own TwiML response: what goes back, how their SIDs are recorded, and every
case in which the replies go through the REST API after all (more than 10, an outage notice, a message
left for a worker), plus the sweep that settles a TwiML reply whose callbacks never came."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update

from bot import runtime, texts
from bot.channels import OutboundRequest, RetryableSendError, SendResult
from bot.channels.twiml import TwimlReply, read_reply_twiml
from bot.config import ConfigError, Settings, load_settings, override
from bot.conversation import chat, loop, receive, sweep
from bot.db import Database
from bot.models import Channel, Direction, Message, MessageStatus, Processing, utcnow
from bot.rasa.client import BotMessage
from tests.conftest import PHONE, People
from tests.unit.conftest import FakeRasa, FakeSender, RecordingLater, post_message
from webhooks import create_app

ACCOUNT = "AC" + "1" * 32


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    """Settings with a Twilio account (not the sandbox): inline replies go back as TwiML by default."""
    return override(settings, twilio_account_sid=ACCOUNT, twilio_auth_token="twilio-token-0123456789")


@pytest.fixture
def twilio_app(twilio_settings: Settings, db: Database, services: runtime.Services) -> Flask:
    services.settings = twilio_settings
    app = create_app(twilio_settings)
    app.extensions["regua_services"] = services
    return app


def _replies(response) -> list[TwimlReply]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 and response.mimetype == "text/xml"
    return read_reply_twiml(response.data)


def _outbound(db: Database) -> list[Message]:
    with db.session() as s:
        return list(
            s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND).order_by(Message.id))
        )


def _callback(app: Flask, settings: Settings, action: str, **form: str):  # type: ignore[no-untyped-def]
    """Post a status callback to `action` (a full URL) signed as Twilio signs it."""
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(settings.webhook_auth_token).compute_signature(action, form)
    parts = urlsplit(action)
    return app.test_client().post(
        f"{parts.path}?{parts.query}", data=form, headers={"X-Twilio-Signature": signature}
    )


def test_an_inline_answer_goes_back_as_twiml_with_its_image_and_a_status_callback_per_reply(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, fake_rasa: FakeRasa, sender
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = lambda _s, _t, _m: [
        BotMessage(text="Sua fatura de R$ 159,90 vence hoje."),
        BotMessage(text="Pix copia e cola:", image="https://regua.example/m/qr.png?sig=a&exp=1"),
    ]
    response, form = post_message(twilio_app, twilio_settings, "kd o boleto?")
    replies = _replies(response)
    rows = _outbound(db)
    assert [r.body for r in replies] == ["Sua fatura de R$ 159,90 vence hoje.", "Pix copia e cola:"]
    assert replies[1].media == ["https://regua.example/m/qr.png?sig=a&exp=1"]
    assert [r.reply_id for r in replies] == [m.id for m in rows]
    assert replies[0].action == f"{twilio_settings.public_base_url}/webhooks/twilio/status?reply={rows[0].id}"
    assert response.data.count(b'method="POST"') == 2
    # Handed over in the response: no API call, saved and claimed, its SID still to come.
    assert sender.sent == []
    assert [(m.status, m.provider_sid) for m in rows] == [(MessageStatus.SENDING, None)] * 2
    exchange = chat.replies_to(db, form["MessageSid"], timeout=0)
    assert exchange.processing == Processing.DONE


def test_the_first_status_callback_records_the_sid_twilio_gave_a_twiml_reply(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, caplog
) -> None:  # type: ignore[no-untyped-def]
    response, _ = post_message(twilio_app, twilio_settings, "oi")
    (reply,) = _replies(response)
    sid = chat.new_sid()
    assert (
        _callback(twilio_app, twilio_settings, reply.action, MessageSid=sid, MessageStatus="sent").status_code
        == 200
    )
    for state in ("delivered", "sent"):  # later callbacks, out of order too
        _callback(twilio_app, twilio_settings, reply.action, MessageSid=sid, MessageStatus=state)
    (row,) = _outbound(db)
    assert row.provider_sid == sid and row.status == MessageStatus.DELIVERED
    assert row.sent_at and row.delivered_at
    # A callback naming a row that already has another SID (or an inbound message) changes nothing.
    other = chat.new_sid()
    _callback(twilio_app, twilio_settings, reply.action, MessageSid=other, MessageStatus="failed")
    inbound_id = row.in_reply_to_id
    inbound_action = reply.action.replace(f"reply={row.id}", f"reply={inbound_id}")
    _callback(twilio_app, twilio_settings, inbound_action, MessageSid=other, MessageStatus="read")
    (row,) = _outbound(db)
    assert row.provider_sid == sid and row.status == MessageStatus.DELIVERED
    assert f"unknown message SID {other}" in caplog.text


def test_a_status_callback_with_a_malformed_reply_id_is_refused(
    twilio_app: Flask, twilio_settings: Settings
) -> None:
    action = f"{twilio_settings.public_base_url}/webhooks/twilio/status?reply=abc"
    assert (
        _callback(twilio_app, twilio_settings, action, MessageSid="SMx", MessageStatus="sent").status_code
        == 400
    )


def test_sms_replies_are_split_into_one_twiml_message_per_part_with_links_instead_of_images(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, fake_rasa: FakeRasa
) -> None:
    long_text = " ".join(["Sua fatura está disponível para pagamento."] * 30)
    fake_rasa.answer = lambda _s, _t, _m: [BotMessage(text=long_text, image="https://regua.example/m/qr.png")]
    response, _ = post_message(twilio_app, twilio_settings, "segunda via", channel="sms")
    replies = _replies(response)
    assert len(replies) > 1 and all(not r.media for r in replies)
    assert all(len(r.body) <= twilio_settings.sms_part_max_chars for r in replies)
    assert replies[-1].body.endswith("https://regua.example/m/qr.png")
    assert [r.reply_id for r in replies] == [m.id for m in _outbound(db)]


def test_an_opt_out_keyword_is_confirmed_in_the_response(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, fake_rasa: FakeRasa
) -> None:
    response, _ = post_message(twilio_app, twilio_settings, "PARAR")
    assert [r.body for r in _replies(response)] == [texts.opt_out_confirmed(Channel.WHATSAPP)]
    assert fake_rasa.calls == []


def test_more_replies_than_twilio_takes_in_a_response_go_through_the_api_in_order(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, fake_rasa: FakeRasa, sender
) -> None:  # type: ignore[no-untyped-def]
    parts = [f"parte {n}" for n in range(1, loop.TWIML_MAX_REPLIES + 2)]
    fake_rasa.answer = lambda _s, _t, _m: [BotMessage(text=p) for p in parts]
    response, _ = post_message(twilio_app, twilio_settings, "manda tudo")
    assert _replies(response) == []
    assert [r.body for r in sender.sent] == parts
    assert all(
        r.status_callback == f"{twilio_settings.public_base_url}/webhooks/twilio/status" for r in sender.sent
    )
    assert {m.status for m in _outbound(db)} == {MessageStatus.QUEUED}
    assert all(m.provider_sid for m in _outbound(db))


def test_exactly_ten_replies_still_fit_in_the_response(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People, fake_rasa: FakeRasa, sender
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = lambda _s, _t, _m: [
        BotMessage(text=f"parte {n}") for n in range(loop.TWIML_MAX_REPLIES)
    ]
    response, _ = post_message(twilio_app, twilio_settings, "manda tudo")
    assert len(_replies(response)) == loop.TWIML_MAX_REPLIES and sender.sent == []


def test_when_rasa_is_down_the_notice_goes_through_the_api_and_the_message_waits(
    twilio_app: Flask,
    twilio_settings: Settings,
    db: Database,
    people: People,
    fake_rasa: FakeRasa,
    sender,
    later,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.down = True
    response, form = post_message(twilio_app, twilio_settings, "manda o pix")
    assert _replies(response) == []
    assert [r.body for r in sender.sent] == [texts.OUTAGE_NOTICE]
    assert chat.replies_to(db, form["MessageSid"], timeout=0).processing == Processing.PENDING
    assert later.processes and later.processes[-1][1] is not None  # its retry


def test_a_duplicate_delivery_gets_an_empty_response(
    twilio_app: Flask, twilio_settings: Settings, db: Database, people: People
) -> None:
    sid = chat.new_sid()
    first, _ = post_message(twilio_app, twilio_settings, "oi", sid=sid)
    again, _ = post_message(twilio_app, twilio_settings, "oi", sid=sid)
    assert len(_replies(first)) == 1 and _replies(again) == []
    assert len(_outbound(db)) == 1


def test_replies_held_for_the_response_go_through_the_api_when_a_message_is_left_for_a_worker(
    twilio_app: Flask,
    twilio_settings: Settings,
    db: Database,
    people: People,
    fake_rasa: FakeRasa,
    sender: FakeSender,
    later: RecordingLater,
    services: runtime.Services,
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    from bot.conversation import inbound
    from bot.phones import parse_address

    # An older message of the conversation waits (its worker died); the new one arrives.
    with db.session() as s:
        inbound.store(
            s,
            inbound.Inbound(
                sid=chat.new_sid(), sender=parse_address(f"whatsapp:{PHONE}"), to="", body="primeira"
            ),
        )
    monkeypatch.setattr(receive, "INLINE_BUDGET_SECONDS", 0.2)

    def slow(_sender: str, text: str, _meta: dict) -> list[BotMessage]:  # type: ignore[type-arg]
        time.sleep(0.3)  # the first turn ends after the budget: the second is left for a worker
        return [BotMessage(text=f"eco: {text}")]

    fake_rasa.answer = slow
    response, form = post_message(twilio_app, twilio_settings, "segunda")
    # The worker's answer to "segunda" must not overtake "eco: primeira", so that reply does not go in
    # the response: past the budget, it waits (`pending`) for the delivery job, queued before the worker's.
    assert _replies(response) == [] and sender.sent == []
    (held,) = _outbound(db)
    assert (held.body, held.status) == ("eco: primeira", MessageStatus.PENDING)
    assert later.deliveries == [(held.conversation_id, None)]
    assert later.processes == [(held.conversation_id, None)]
    assert chat.replies_to(db, form["MessageSid"], timeout=0).processing == Processing.PENDING
    loop.send_now(services, held.conversation_id)  # the delivery job
    assert [r.body for r in sender.sent] == ["eco: primeira"]


def test_the_api_mode_sends_inline_replies_before_an_empty_response(
    settings: Settings, db: Database, people: People, services: runtime.Services, sender: FakeSender
) -> None:
    api = override(
        settings,
        twilio_account_sid=ACCOUNT,
        twilio_auth_token="twilio-token-0123456789",
        twilio_inline_replies="api",
    )
    services.settings = api
    app = create_app(api)
    app.extensions["regua_services"] = services
    response, _ = post_message(app, api, "oi")
    assert _replies(response) == [] and [r.body for r in sender.sent] == ["eco: oi"]


def test_inline_replies_mode_is_validated(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="TWILIO_INLINE_REPLIES"):
        load_settings({"REGUA_ENV": "test", "SECRET_KEY": "x" * 20, "TWILIO_INLINE_REPLIES": "fax"})
    sandbox = load_settings({"REGUA_ENV": "test", "SECRET_KEY": "x" * 20})
    assert sandbox.twilio_inline_replies == "twiml" and not sandbox.twiml_replies  # no Twilio to read it


class LookupSender(FakeSender):
    """A provider that also says what it has (`lookup`), or fails to say while told to."""

    def __init__(self) -> None:
        super().__init__()
        self.has: dict[str, SendResult] = {}
        self.lookup_failures: list[Exception] = []

    def lookup(
        self, request: OutboundRequest, since: datetime, exclude: frozenset[str] = frozenset()
    ) -> SendResult | None:
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        found = self.has.get(request.body)
        return None if found is None or found.sid in exclude else found


def test_the_sweep_settles_twiml_replies_whose_callbacks_never_came(
    twilio_app: Flask,
    twilio_settings: Settings,
    db: Database,
    people: People,
    fake_rasa: FakeRasa,
    services: runtime.Services,
    later: RecordingLater,
) -> None:
    fake_rasa.answer = lambda _s, _t, _m: [BotMessage(text="recebida"), BotMessage(text="perdida")]
    post_message(twilio_app, twilio_settings, "oi")
    lookup = LookupSender()
    lookup.has["recebida"] = SendResult(sid="SMfound", status=MessageStatus.DELIVERED)
    services.sender = lookup

    assert sweep.sweep_once(services)["stuck_sends"] == 0  # too early: the callbacks may still come
    with db.session() as s:
        s.execute(update(Message).values(updated_at=utcnow() - sweep.STUCK_SENDING - timedelta(seconds=1)))
    lookup.lookup_failures = [RetryableSendError("Twilio lookup failed")] * 2
    sweep.sweep_once(services)  # Twilio cannot tell now: nothing changes, the next sweep asks again
    assert {m.status for m in _outbound(db)} == {MessageStatus.SENDING}

    found = sweep.sweep_once(services)
    received, lost = _outbound(db)
    assert found["stuck_sends"] == 2
    assert (received.provider_sid, received.status) == ("SMfound", MessageStatus.DELIVERED)
    assert (lost.provider_sid, lost.status) == (None, MessageStatus.PENDING)  # Twilio never got it
    assert later.deliveries == [(lost.conversation_id, None)]
    loop.send_now(services, lost.conversation_id)  # the delivery job
    assert [r.body for r in lookup.sent] == ["perdida"]  # sent once, the received one never again


def test_a_reply_response_reads_back_as_written_and_anything_else_is_refused(
    twilio_settings: Settings,
) -> None:
    from bot.channels.twiml import reply_twiml

    request = OutboundRequest(
        channel=Channel.WHATSAPP, to=PHONE, body="Pix: 0002 & <cia>", media_urls=["https://x/q.png?a=1&b=2"]
    )
    (read,) = read_reply_twiml(reply_twiml(twilio_settings, [(42, request)]))
    assert (read.reply_id, read.body, read.media) == (42, "Pix: 0002 & <cia>", ["https://x/q.png?a=1&b=2"])
    with pytest.raises(ValueError, match="not a TwiML response"):
        read_reply_twiml("<Other/>")
    with pytest.raises(ValueError, match="without a reply callback"):
        read_reply_twiml("<Response><Message>oi</Message></Response>")
