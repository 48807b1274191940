"""The minute sweep cannot die: a bad row, a failing step or a lost chain never stops the next sweep, and a
lookup never gives a reply the SID another reply already holds (issue 15 §2)."""

from __future__ import annotations

from collections.abc import Container, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from sqlalchemy import select, update

from bot import runtime
from bot.channels import OutboundRequest, SendResult
from bot.channels.twilio_api import TwilioSender
from bot.config import Settings, override
from bot.conversation import loop, sweep
from bot.db import Database
from bot.models import Channel, Conversation, Direction, Message, MessageStatus, utcnow
from bot.payments import confirmations
from bot.reminders import scheduler
from tests import twilio_standin
from tests.conftest import People
from tests.unit.conftest import FakeSender
from tests.unit.test_dialogue import _pending

PHONE = "+5511987654321"  # the number `_pending` writes from
QUESTION = "Posso ajudar em algo mais?"


@pytest.fixture
def rq_services(monkeypatch, services, redis_conn: redis.Redis):  # type: ignore[no-untyped-def]
    """Jobs run with the test services, scheduling on the test Redis."""
    services.later = runtime.RqLater(redis_conn)
    monkeypatch.setattr("bot.runtime.services", lambda: services)
    return services


@pytest.fixture
def standin() -> Iterator[twilio_standin.StandIn]:
    with twilio_standin.running() as running:
        yield running


def _reply(
    db: Database, conversation_id: int, body: str, *, sid: str | None = None, pending: bool = False
) -> int:
    """An outbound reply: sent with `sid`, `pending`, or left `sending` without a SID long enough to count
    as stuck."""
    with db.session() as s:
        channel = s.get_one(Conversation, conversation_id).channel
        message = Message(
            conversation_id=conversation_id,
            direction=Direction.OUTBOUND,
            channel=channel,
            body=body,
            status=MessageStatus.SENT if sid else MessageStatus.PENDING if pending else MessageStatus.SENDING,
            provider_sid=sid,
        )
        s.add(message)
        s.flush()
        message_id = message.id
    with db.session() as s:
        s.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(updated_at=utcnow() - sweep.STUCK_SENDING - timedelta(minutes=1))
        )
    return message_id


def _status(db: Database, message_id: int) -> tuple[MessageStatus, str | None]:
    with db.session() as s:
        message = s.get_one(Message, message_id)
        return message.status, message.provider_sid


def _twilio(settings: Settings, standin: twilio_standin.StandIn) -> Settings:
    return override(
        settings,
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="secret-token-123",
        twilio_whatsapp_from="whatsapp:+5511999990000",
        twilio_api_base_url=standin.url,
    )


def test_a_stuck_reply_matching_an_already_recorded_message_is_sent_again_and_the_sweep_goes_on(
    settings: Settings, services, db: Database, standin: twilio_standin.StandIn
) -> None:  # type: ignore[no-untyped-def]
    services.sender = sender = TwilioSender(_twilio(settings, standin))
    conversation_id = _pending(db, "oi")
    # The debtor was asked the same question twice; Twilio has only the first, whose SID is recorded.
    first = sender.send(OutboundRequest(channel=Channel.WHATSAPP, to=PHONE, body=QUESTION))
    _reply(db, conversation_id, QUESTION, sid=first.sid)
    again = _reply(db, conversation_id, QUESTION)
    delivered = sender.send(OutboundRequest(channel=Channel.WHATSAPP, to=PHONE, body="Seu boleto"))
    boleto = _reply(db, conversation_id, "Seu boleto")

    found = sweep.sweep_once(services)

    assert found["stuck_sends"] == 2 and found["delivering"] == 1
    assert _status(db, again) == (MessageStatus.PENDING, None)  # Twilio never got the second: sent again
    assert _status(db, boleto) == (MessageStatus.QUEUED, delivered.sid)


class NumberLookup(FakeSender):
    """A provider whose lookup matches a message by body and number, whatever the channel (both of a
    debtor's conversations, WhatsApp and SMS, reach the same number)."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[tuple[str, OutboundRequest]] = []

    def lookup(
        self, request: OutboundRequest, since: datetime, exclude: Container[str] = frozenset()
    ) -> SendResult | None:
        for sid, sent in self.copies:
            if sent.body == request.body and sent.to == request.to and sid not in exclude:
                return SendResult(sid=sid, status=MessageStatus.DELIVERED)
        return None

    def send(self, request: OutboundRequest) -> SendResult:
        result = super().send(request)
        self.copies.append((result.sid, request))
        return result


def test_a_lookup_never_matches_a_sid_recorded_in_another_conversation(services, db: Database) -> None:  # type: ignore[no-untyped-def]
    services.sender = sender = NumberLookup()
    whatsapp = _pending(db, "oi")
    # The same debtor's SMS conversation got the same question; the provider's copy is recorded there.
    with db.session() as s:
        sms = Conversation(channel=Channel.SMS, address=PHONE)
        s.add(sms)
        s.flush()
        sms_id = sms.id
    first = sender.send(OutboundRequest(channel=Channel.SMS, to=PHONE, body=QUESTION))
    recorded = _reply(db, sms_id, QUESTION, sid=first.sid)
    stuck = _reply(db, whatsapp, QUESTION)  # never reached the provider

    assert sweep.sweep_once(services)["stuck_sends"] == 1

    # Not given the other conversation's copy: the provider never got it, so it goes again.
    assert _status(db, stuck) == (MessageStatus.PENDING, None)
    assert _status(db, recorded) == (MessageStatus.SENT, first.sid)


class BrokenLookup(FakeSender):
    """A provider whose lookup blows up for one body (a bug, a bad row) and finds the others."""

    def lookup(
        self, request: OutboundRequest, since: datetime, exclude: frozenset[str] = frozenset()
    ) -> SendResult | None:
        if request.body == "quebrada":
            raise ValueError("unexpected answer")
        return SendResult(sid=f"SM-{request.body}", status=MessageStatus.DELIVERED)


def test_one_row_whose_settling_fails_is_skipped_and_the_other_rows_are_settled(
    services, db: Database
) -> None:  # type: ignore[no-untyped-def]
    services.sender = BrokenLookup()
    conversation_id = _pending(db, "oi")
    broken = _reply(db, conversation_id, "quebrada")
    fine = _reply(db, conversation_id, "recebida")

    assert sweep.sweep_once(services)["stuck_sends"] == 2

    assert _status(db, broken) == (MessageStatus.SENDING, None)  # left for the next sweep
    assert _status(db, fine) == (MessageStatus.DELIVERED, "SM-recebida")


def _scheduled_sweeps(conn: redis.Redis) -> list[str]:
    return [
        j for j in runtime.queue(conn).scheduled_job_registry.get_job_ids() if j.startswith("regua-sweep-")
    ]


def test_the_next_sweep_is_scheduled_even_when_the_sweep_raises(
    monkeypatch, rq_services, redis_conn: redis.Redis
) -> None:  # type: ignore[no-untyped-def]
    def times_out(_services: object) -> dict[str, int]:
        raise TimeoutError("database statement timeout")

    monkeypatch.setattr(sweep, "sweep_once", times_out)
    with pytest.raises(TimeoutError):
        sweep.sweep()
    assert len(_scheduled_sweeps(redis_conn)) == 1


def test_the_scheduler_re_seeds_a_sweep_chain_lost_with_redis(
    settings: Settings, db: Database, redis_conn: redis.Redis
) -> None:
    redis_conn.flushdb()  # a Redis restart without persistence: the scheduled sweep is gone
    with time_machine.travel(datetime(2026, 12, 7, 13, 0, 20, tzinfo=UTC), tick=False):
        scheduler.tick(settings, db, redis_conn)
        scheduler.tick(settings, db, redis_conn)
    assert len(_scheduled_sweeps(redis_conn)) == 1  # one chain, however many ticks


def test_a_reply_twilio_created_but_answered_with_a_5xx_is_settled_by_lookup_not_sent_again(
    settings: Settings, services, db: Database, standin: twilio_standin.StandIn
) -> None:  # type: ignore[no-untyped-def]
    services.sender = TwilioSender(_twilio(settings, standin))
    conversation_id = _pending(db, "oi")
    boleto = _reply(db, conversation_id, "Seu boleto", pending=True)
    after = _reply(db, conversation_id, "Mais alguma coisa?", pending=True)
    standin.after_create = [500]  # Twilio creates the message, then answers 500

    loop.send_now(services, conversation_id)
    assert _status(db, boleto) == (MessageStatus.SENDING, None)  # ambiguous: not retried blindly
    assert _status(db, after)[0] == MessageStatus.PENDING  # waits behind it, in order
    loop.send_now(services, conversation_id)  # a delivery job meanwhile sends nothing
    assert len(standin.to(PHONE)) == 1

    with db.session() as s:
        s.execute(
            update(Message)
            .where(Message.id == boleto)
            .values(updated_at=utcnow() - sweep.STUCK_SENDING - timedelta(seconds=1))
        )
    sweep.sweep_once(services)
    assert _status(db, boleto) == (MessageStatus.QUEUED, standin.to(PHONE)[0]["sid"])
    assert [m["body"] for m in standin.to(PHONE)] == ["Seu boleto"]  # exactly once


def test_a_payment_thank_you_twilio_created_but_answered_with_a_5xx_is_settled_by_lookup_not_sent_again(
    settings: Settings, services, db: Database, people: People, standin: twilio_standin.StandIn
) -> None:  # type: ignore[no-untyped-def]
    services.sender = TwilioSender(_twilio(settings, standin))
    with db.session() as s:  # the debtor wrote today: a free-form thank-you may go on WhatsApp
        s.add(
            Conversation(
                channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id, last_inbound_at=utcnow()
            )
        )
    with db.session() as s:
        (conversation_id,) = confirmations.thank(s, settings, people.debtor_id, "Recebemos o pagamento")
    standin.after_create = [500]

    loop.send_now(services, conversation_id)  # the delivery job the payment webhook enqueues
    (thanks,) = _replies(db, conversation_id)
    assert _status(db, thanks) == (MessageStatus.SENDING, None)  # ambiguous: not retried blindly
    loop.send_now(services, conversation_id)
    assert len(standin.to(PHONE)) == 1

    with db.session() as s:
        s.execute(
            update(Message)
            .where(Message.id == thanks)
            .values(updated_at=utcnow() - sweep.STUCK_SENDING - timedelta(seconds=1))
        )
    sweep.sweep_once(services)
    (copy,) = standin.to(PHONE)
    assert _status(db, thanks) == (MessageStatus.QUEUED, copy["sid"])


def _replies(db: Database, conversation_id: int) -> list[int]:
    with db.session() as s:
        return list(
            s.scalars(
                select(Message.id).where(
                    Message.conversation_id == conversation_id, Message.direction == Direction.OUTBOUND
                )
            )
        )
