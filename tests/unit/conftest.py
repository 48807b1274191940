"""Fixtures for conversation tests: people in the database, and stand-ins for Rasa, the provider and RQ.

The stand-ins replace external HTTP services only (Rasa's REST API, Twilio's REST API) so the unit tests
run without network; tests/integration runs the same code against the real Rasa and action servers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import urllib3
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import event

from bot import runtime
from bot.channels import OutboundRequest, SendResult
from bot.cli import main
from bot.config import Settings, get_settings, override
from bot.conversation import chat
from bot.db import Database
from bot.models import MessageStatus
from bot.phones import Address
from bot.rasa.client import BotMessage, Prediction, RasaTurn, RasaUnavailable
from tests.conftest import PHONE
from tests.unit.console_people import make_user
from webhooks import create_app


class FakeRasa:
    """Rasa's REST channel: echoes the text, or runs `answer(sender_id, text, metadata)` (a test sets it to
    call the same `bot.answers` function the real action would); `down` makes it unreachable. It reports
    no prediction unless a test sets `predict(text)`."""

    def __init__(self) -> None:
        self.down = False
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[tuple[str, str]] = []  # tracker events appended: (sender id, event)
        self.answer: Callable[[str, str, dict[str, Any]], list[BotMessage]] = lambda _sender, text, _meta: [
            BotMessage(text=f"eco: {text}")
        ]
        self.predict: Callable[[str], Prediction | None] = lambda _text: None

    def turn(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> RasaTurn:
        if self.down:
            raise RasaUnavailable("Rasa unreachable: ConnectionError")
        self.calls.append((sender_id, text, metadata or {}))
        return RasaTurn(self.answer(sender_id, text, metadata or {}), self.predict(text))

    def parse(self, text: str) -> dict[str, Any]:
        """`/model/parse`: no intent and no entities unless a test sets `parsed`."""
        if self.down:
            raise RasaUnavailable("Rasa unreachable: ConnectionError")
        return self.parsed(text)

    def parsed(self, text: str) -> dict[str, Any]:
        return {"text": text, "intent": {"name": None}, "entities": []}

    def append_event(self, sender_id: str, event: str) -> None:
        if self.down:
            raise RasaUnavailable("Rasa unreachable: ConnectionError")
        self.events.append((sender_id, event))

    def healthy(self) -> bool:
        return not self.down


@dataclass
class RecordingLater:
    """`runtime.Later` that records what would be scheduled."""

    processes: list[tuple[int, datetime | None]] = field(default_factory=list)
    deliveries: list[tuple[int, datetime | None]] = field(default_factory=list)

    def process(self, conversation_id: int, when: datetime | None = None) -> None:
        self.processes.append((conversation_id, when))

    def deliver(self, conversation_id: int, when: datetime | None = None) -> None:
        self.deliveries.append((conversation_id, when))


class FakeSender:
    """A provider that accepts everything, or raises the errors queued in `failures` first."""

    def __init__(self) -> None:
        self.sent: list[OutboundRequest] = []
        self.failures: list[Exception] = []
        self.channel_failures: dict[str, list[Exception]] = {}
        self._lock = threading.Lock()  # dispatchers send from several threads

    def send(self, request: OutboundRequest) -> SendResult:
        with self._lock:
            queued = self.channel_failures.get(request.channel.value) or self.failures
            if queued:
                raise queued.pop(0)
            self.sent.append(request)
        return SendResult(sid=chat.new_sid(), status=MessageStatus.QUEUED)


class FakePool:
    """urllib3's pool manager (the Twilio and Rasa HTTP clients): records each request and answers with
    `status` and `body` (bytes as they are, anything else as JSON), or raises `error`."""

    def __init__(self, status: int = 200, body: object = b"{}", error: Exception | None = None) -> None:
        self.status, self.body, self.error = status, body, error
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        self.requests.append({"method": method, "url": url, **kwargs})
        if self.error is not None:
            raise self.error
        data = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        return urllib3.HTTPResponse(body=data, status=self.status)


@contextmanager
def failing_statements(db: Database, marker: str, *, skip: int = 0) -> Iterator[list[str]]:
    """A fault at the database's door: every SQL statement containing `marker` raises (a RuntimeError,
    as a bug would, not a database error) once `skip` of them went through; yields the failed ones."""
    seen: list[str] = []
    failed: list[str] = []

    def fail(*args: object) -> None:
        statement = str(args[2])
        if marker in statement:
            seen.append(statement)
            if len(seen) > skip:
                failed.append(statement)
                raise RuntimeError(f"a bug at statement {len(seen)} containing {marker!r}")

    event.listen(db.engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(db.engine, "before_cursor_execute", fail)


@pytest.fixture
def team(db: Database) -> dict[str, int]:
    """Three people of the console: agents Ana and Bia, supervisor Silvia (their ids)."""
    return {
        "ana": make_user(db, "agent", "ana@regua.example", "Ana Souza"),
        "bia": make_user(db, "agent", "bia@regua.example", "Bia Lima"),
        "sil": make_user(db, "supervisor", "sil@regua.example", "Silvia Prado"),
    }


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def later() -> RecordingLater:
    return RecordingLater()


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def services(
    settings: Settings, db: Database, fake_rasa: FakeRasa, sender: FakeSender, later: RecordingLater
):
    """Dialogue services over the test database with the stand-ins."""
    return runtime.Services(settings=settings, database=db, rasa=fake_rasa, sender=sender, later=later)


@pytest.fixture
def app(settings: Settings, db: Database, services: runtime.Services, redis_conn: redis.Redis) -> Flask:
    """The web app over the test database and an emptied Redis (rate-limit counters, queues); inline
    processing uses the stand-in services."""
    app = create_app(override(settings, rasa_url="http://127.0.0.1:9"))
    app.extensions["regua_services"] = services
    return app


def post_message(
    app: Flask,
    settings: Settings,
    body: str,
    *,
    phone: str = PHONE,
    channel: str = "whatsapp",
    sid: str | None = None,
    media: list[tuple[str, str]] | None = None,
):  # type: ignore[no-untyped-def]
    """Post a correctly signed inbound message to the app; returns (response, form)."""
    form = chat.inbound_form(settings, Address(channel, phone), body, sid=sid, media=media)  # type: ignore[arg-type]
    response = app.test_client().post(
        chat.MESSAGES_PATH,
        data=form,
        headers={"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, form)},
    )
    return response, form


@pytest.fixture
def cli_env(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Environment for the CLI: the (emptied) test database and a private var dir."""
    var_dir = tmp_path / "var"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGUA_VAR_DIR", str(var_dir))
    monkeypatch.setenv("REGUA_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789")
    get_settings.cache_clear()
    yield var_dir
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)
