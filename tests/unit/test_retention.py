"""The LGPD retention job (bot.privacy.retention), on hand-built old rows, and its hook in the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from bot import optout
from bot.config import Settings
from bot.conversation import sweep
from bot.db import Database
from bot.models import AuditLog, Channel, Conversation, Direction, Message, MessageStatus, OptOutAction
from bot.privacy import retention
from tests.unit.lgpd_people import ANA_PHONE, ANA_SECOND_PHONE, JOAO_PHONE, all_text, create

NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
UNKNOWN = "+5521998877665"


def _age(db: Database, model: type, ids: list[int], days: int, **extra: object) -> None:
    """Make rows look `days` old (created long ago, by hand)."""
    with db.session() as s:
        s.execute(
            update(model).where(model.id.in_(ids)).values(created_at=NOW - timedelta(days=days), **extra)  # type: ignore[attr-defined]
        )


def _unknown_conversation(db: Database, days: int) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.SMS, address=UNKNOWN, last_inbound_at=NOW - timedelta(days=days)
        )
        s.add(conversation)
        s.flush()
        body = "meu CPF é 111.444.777-35, quem fala?"
        s.add(Message(conversation_id=conversation.id, direction=Direction.INBOUND, channel=Channel.SMS,
                      body=body, status=MessageStatus.RECEIVED))  # fmt: skip
        s.flush()
        optout.record(s, channel=Channel.SMS, address=UNKNOWN, action=OptOutAction.OPT_OUT, source="keyword")
        return conversation.id


def test_message_bodies_older_than_the_retention_period_are_anonymised_and_newer_ones_kept(
    db: Database, settings: Settings
) -> None:
    ids = create(db)
    with db.session() as s:
        ana_messages = list(
            s.scalars(select(Message.id).where(Message.conversation_id == ids.ana_conversation))
        )
        joao_messages = list(
            s.scalars(select(Message.id).where(Message.conversation_id == ids.joao_conversation))
        )
    _age(db, Message, ana_messages, 366)
    _age(db, Message, joao_messages, 364)
    result = retention.run(db, settings, now=NOW)
    assert result.bodies == 2 and result.finished
    with db.session() as s:
        old = s.scalars(select(Message).where(Message.id.in_(ana_messages))).all()
        assert all(m.body == "" and m.media == [] and m.content_variables is None for m in old)
        assert all(m.redacted_at is not None and m.error_message is None for m in old)
        assert all(m.status in (MessageStatus.RECEIVED, MessageStatus.FAILED) for m in old)  # the facts stay
        assert (
            s.scalar(select(Message.body).where(Message.id == joao_messages[0]))
            == "Oi, aqui é o João Pereira"
        )


def test_messages_and_numbers_of_unknown_senders_are_anonymised_after_their_period_and_their_opt_out_holds(
    db: Database, settings: Settings
) -> None:
    ids = create(db)
    old = _unknown_conversation(db, days=31)
    with db.session() as s:
        _age(db, Message, list(s.scalars(select(Message.id).where(Message.conversation_id == old))), 31)
        _age(db, Conversation, [old], 40)
        # Ana's secondary number wrote before it was linked to her: a debtor's number, not an unknown one.
        unlinked = list(
            s.scalars(select(Message.id).where(Message.conversation_id == ids.unlinked_conversation))
        )
        _age(db, Message, unlinked, 40)
        _age(db, Conversation, [ids.unlinked_conversation], 40, last_inbound_at=NOW - timedelta(days=40))
    result = retention.run(db, settings, now=NOW)
    assert (result.unknown_messages, result.unknown_numbers) == (1, 1)
    with db.session() as s:
        conversation = s.get_one(Conversation, old)
        assert conversation.address.startswith("anon-") and conversation.redacted_at is not None
        assert s.scalar(select(Message.body).where(Message.conversation_id == old)) == ""
        # The number asked not to be messaged: that still holds, through the keyed hash.
        assert optout.is_opted_out(s, Channel.SMS, UNKNOWN, key=settings.erasure_key)
        assert s.scalar(select(func.count()).where(AuditLog.action == "retention.run")) == 1
        # A debtor's recent conversation, and its number, are not touched.
        assert s.get_one(Conversation, ids.ana_conversation).address == ANA_PHONE
        assert s.get_one(Conversation, ids.joao_conversation).address == JOAO_PHONE
        assert s.get_one(Conversation, ids.unlinked_conversation).address == ANA_SECOND_PHONE
        assert (
            s.scalar(select(Message.body).where(Message.id == unlinked[0])) == "aqui é a Ana Beatriz de novo"
        )
    with db.engine.connect() as conn:
        text = all_text(conn)
    assert UNKNOWN not in text and "111.444.777-35" not in text


def test_a_recent_unknown_number_is_kept(db: Database, settings: Settings) -> None:
    recent = _unknown_conversation(db, days=5)
    result = retention.run(db, settings, now=datetime.now(UTC))
    assert (result.unknown_messages, result.unknown_numbers) == (0, 0)
    with db.session() as s:
        assert s.get_one(Conversation, recent).address == UNKNOWN


def test_retention_works_in_batches_and_resumes_when_its_budget_is_spent(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(db)
    with db.session() as s:
        every = list(s.scalars(select(Message.id)))
    _age(db, Message, every, 400)
    monkeypatch.setattr(retention, "BATCH", 1)
    first = retention.run(db, settings, now=NOW, budget_seconds=0)
    assert not first.finished and first.bodies == 0
    assert retention.last_run(db) is None  # unfinished: the next sweep carries on
    second = retention.run(db, settings, now=NOW)
    assert second.finished and second.bodies == len(every)
    assert retention.last_run(db) == NOW


def test_the_hourly_sweep_runs_retention_at_most_once_a_day(db: Database, services) -> None:  # type: ignore[no-untyped-def]
    create(db)
    with db.session() as s:
        every = list(s.scalars(select(Message.id)))
    _age(db, Message, every, 400)
    with time_machine.travel(NOW, tick=False):
        sweep.sweep_once(services)
        sweep.sweep_once(services)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        sweep.sweep_once(services)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        sweep.sweep_once(services)
    with db.session() as s:
        runs = s.scalar(select(func.count()).where(AuditLog.action == "retention.run"))
        assert runs == 1 and s.scalar(select(func.count()).where(Message.body != "")) == 0
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        sweep.sweep_once(services)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(AuditLog.action == "retention.run")) == 2
