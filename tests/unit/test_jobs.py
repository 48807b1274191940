"""The worker side: RQ jobs answer queued conversations, the sweep recovers lost work, `regua chat` talks
through the webhook."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from rq import Queue
from sqlalchemy import select, update
from werkzeug.serving import make_server

from bot import runtime, worker
from bot.cli.chat import chat as chat_command
from bot.config import Settings, override
from bot.conversation import chat, sweep, sweep_schedule
from bot.db import Database
from bot.models import Direction, Message, MessageStatus, Processing, utcnow
from tests.conftest import People
from tests.unit.conftest import FakeSender
from tests.unit.test_dialogue import _pending
from webhooks import create_app


def _sid_of(db: Database, body: str) -> str:
    with db.session() as s:
        return s.scalar(select(Message.provider_sid).where(Message.body == body))


@pytest.fixture
def worker_services(monkeypatch, services, redis_conn: redis.Redis):  # type: ignore[no-untyped-def]
    """Jobs run with the test services, scheduling follow-ups on the test Redis."""
    services.later = runtime.RqLater(redis_conn)
    monkeypatch.setattr("bot.runtime.services", lambda: services)
    return services


def test_a_queued_conversation_is_answered_by_the_worker(
    app: Flask,
    settings: Settings,
    worker_services,
    redis_conn: redis.Redis,
    sender: FakeSender,
    people: People,
) -> None:  # type: ignore[no-untyped-def]
    conversation_id = _pending(worker_services.database, "oi")
    runtime.RqLater(redis_conn).process(conversation_id)
    assert worker.run(settings, burst=True) is True
    exchange = chat.replies_to(worker_services.database, _sid_of(worker_services.database, "oi"), timeout=0)
    assert exchange.processing == Processing.DONE and exchange.texts == ["eco: oi"]
    assert [r.body for r in sender.sent] == ["eco: oi"]


def test_the_sweep_requeues_lost_work_and_closes_unknown_sends(
    app: Flask, settings: Settings, worker_services, redis_conn: redis.Redis, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    _pending(db, "oi")  # saved, then the process died before answering (or its job was lost)
    with db.session() as s:
        conversation_id = s.scalar(select(Message.conversation_id))
        s.add(
            Message(
                conversation_id=conversation_id,
                direction=Direction.OUTBOUND,
                channel=s.scalar(select(Message.channel)),
                body="perdida",
                status=MessageStatus.SENDING,
            )
        )
    with db.session() as s:
        s.execute(
            update(Message).where(Message.body == "perdida").values(updated_at=utcnow() - timedelta(hours=1))
        )
    found = sweep.sweep_once(worker_services)
    assert {k: found[k] for k in ("processing", "delivering", "stuck_sends")} == {
        "processing": 1,
        "delivering": 0,
        "stuck_sends": 1,
    }
    queued = Queue(sweep_schedule.DEFAULT_QUEUE, connection=redis_conn).jobs
    assert [(j.func_name, j.args) for j in queued] == [
        ("bot.conversation.jobs.process_conversation", (conversation_id,))
    ]
    with db.session() as s:
        assert s.scalar(select(Message.status).where(Message.body == "perdida")) == MessageStatus.FAILED


def test_the_sweep_schedules_one_next_sweep_whoever_asks(redis_conn: redis.Redis) -> None:
    q = runtime.queue(redis_conn)
    sweep_schedule.schedule_sweep(q)
    sweep_schedule.schedule_sweep(q)
    assert len(q.scheduled_job_registry.get_job_ids()) == 1


@pytest.fixture
def served_app(settings: Settings, db: Database, services) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    """The web app on a real local port, with Redis unreachable so it answers inline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    served = override(settings, redis_url="redis://127.0.0.1:1/0", public_base_url=url)
    app = create_app(served)
    services.settings = served
    app.extensions["regua_services"] = services
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, served
    server.shutdown()


def test_regua_chat_talks_through_the_signed_webhook(
    served_app: tuple[str, Settings], monkeypatch, db: Database, services, people: People
) -> None:  # type: ignore[no-untyped-def]
    url, served_settings = served_app
    monkeypatch.setattr("bot.cli.chat.get_settings", lambda: served_settings)
    monkeypatch.setattr("bot.cli.chat.open_database", lambda: db)
    result = CliRunner().invoke(
        chat_command, ["--phone", "(11) 98765-4321", "--url", url, "-m", "oi", "-m", "PARAR", "--wait", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "régua> eco: oi" in result.output
    assert "régua> Pronto! Você não vai mais receber mensagens" in result.output


def test_regua_chat_refuses_to_run_with_a_twilio_account(monkeypatch, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    twilio = override(settings, twilio_account_sid="AC" + "2" * 32, twilio_auth_token="token-0123456789")
    monkeypatch.setattr("bot.cli.chat.get_settings", lambda: twilio)
    result = CliRunner().invoke(chat_command, ["--phone", "(11) 98765-4321", "-m", "oi"])
    assert result.exit_code != 0 and "telefone de verdade" in result.output


def test_regua_chat_rejects_a_bad_number(monkeypatch, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.cli.chat.get_settings", lambda: settings)
    result = CliRunner().invoke(chat_command, ["--phone", "123", "-m", "oi"])
    assert result.exit_code != 0 and "número inválido" in result.output
