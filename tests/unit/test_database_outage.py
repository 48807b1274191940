"""Nothing is lost when the database is down: the webhook spools what it cannot save (Redis, or a local
file when Redis is down too) and the messages are replayed in order once the database is back.

These tests stop a real PostgreSQL server of their own (tests/faults.py) and a real private Redis."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from bot import embedded_redis, migrations, runtime
from bot.config import Settings, load_settings
from bot.conversation import chat, sweep
from bot.conversation.spool import FILE_NAME, SPOOL_KEY, Spool
from bot.db import Database
from bot.models import Creditor, Debtor, Direction, Message, Processing
from tests.conftest import CNPJ, CPF, PHONE
from tests.faults import PrivatePostgres, postgres_available, private_postgres
from tests.unit.conftest import FakeRasa, FakeSender, RecordingLater, post_message
from webhooks import create_app

pytestmark = pytest.mark.skipif(postgres_available() is not None, reason=str(postgres_available()))


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        migrations.upgrade(server.url)
        database = Database(server.url)
        with database.session() as s:
            s.add(Creditor(legal_name="Loja Exemplo Ltda", cnpj=CNPJ, contact_channel="SAC 0800 000 0000"))
            s.add(
                Debtor(name="Maria da Silva", cpf=CPF, phone=PHONE, timezone="America/Sao_Paulo", state="SP")
            )
        database.dispose()
        yield server


def _settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return load_settings(
        {
            "REGUA_ENV": "test",
            "REGUA_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-0123456789",
        }
    )


def _app(settings: Settings) -> tuple[Flask, runtime.Services, FakeSender]:
    """The web app on `settings`; Rasa answers with an echo, replies are recorded."""
    sender = FakeSender()
    services = runtime.Services(
        settings=settings,
        database=Database(settings.effective_database_url),
        rasa=FakeRasa(),  # type: ignore[arg-type]
        sender=sender,
        later=RecordingLater(),
    )
    app = create_app(settings)
    app.extensions["regua_services"] = services
    return app, services, sender


def _inbound(database: Database) -> list[tuple[str, str]]:
    with database.session() as s:
        rows = s.execute(
            select(Message.body, Message.processing)
            .where(Message.direction == Direction.INBOUND)
            .order_by(Message.id)
        ).all()
    return [(body, processing) for body, processing in rows]


def _through_an_outage(
    app: Flask, settings: Settings, postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> list[dict[str, str]]:
    """Answer one message, stop PostgreSQL, post three (each acknowledged with an empty TwiML), start it
    again; returns the forms posted during the outage."""
    response, _ = post_message(app, settings, "oi")
    assert response.status_code == 200
    postgres.stop()
    forms = []
    with caplog.at_level(logging.INFO):
        for body in ("primeira", "segunda", "terceira"):
            response, form = post_message(app, settings, body)
            assert response.status_code == 200, response.data
            assert response.mimetype == "text/xml" and b"<Message" not in response.data
            forms.append(form)
    assert "message spooled" in caplog.text
    assert not any(body in caplog.text for body in ("primeira", "segunda", "terceira", PHONE))
    postgres.start()
    return forms


def _answered_once_in_order(app: Flask, settings: Settings, services, sender, forms) -> None:  # type: ignore[no-untyped-def]
    """The next message finds the database up: the spooled ones are saved first, in order, and the
    conversation is answered in that order, each message once; a Twilio retry changes nothing."""
    response, _ = post_message(app, settings, "quarta")
    assert response.status_code == 200
    assert _inbound(services.database) == [
        (body, Processing.DONE) for body in ("oi", "primeira", "segunda", "terceira", "quarta")
    ]
    expected = [f"eco: {body}" for body in ("oi", "primeira", "segunda", "terceira", "quarta")]
    assert [r.body for r in sender.sent] == expected
    client = app.test_client()
    retried = client.post(
        chat.MESSAGES_PATH,
        data=forms[1],
        headers={"X-Twilio-Signature": chat.signature(settings, chat.MESSAGES_PATH, forms[1])},
    )
    assert retried.status_code == 200
    assert [r.body for r in sender.sent] == expected
    assert len(_inbound(services.database)) == 5


def test_messages_received_while_postgresql_is_down_are_spooled_in_redis_and_answered_in_order_after(
    tmp_path: Path,
    postgres: PrivatePostgres,
    redis_url: str,
    redis_conn: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(tmp_path, postgres.url, redis_url)
    app, services, sender = _app(settings)
    forms = _through_an_outage(app, settings, postgres, caplog)
    assert redis_conn.llen(SPOOL_KEY) == 3
    assert not (settings.var_dir / "spool" / FILE_NAME).exists()
    _answered_once_in_order(app, settings, services, sender, forms)
    assert redis_conn.llen(SPOOL_KEY) == 0
    services.database.dispose()


def test_with_redis_down_too_the_messages_go_to_a_private_file_and_are_answered_in_order(
    tmp_path: Path, postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    redis_dir = tmp_path / "redis"
    settings = _settings(tmp_path, postgres.url, embedded_redis.ensure_running(redis_dir))
    app, services, sender = _app(settings)
    try:
        embedded_redis.stop(redis_dir)  # a real outage: the server is gone
        forms = _through_an_outage(app, settings, postgres, caplog)
        spool_file = settings.var_dir / "spool" / FILE_NAME
        assert len(spool_file.read_text().splitlines()) == 3
        assert stat.S_IMODE(spool_file.stat().st_mode) == 0o600  # it holds message bodies
        _answered_once_in_order(app, settings, services, sender, forms)
        assert not spool_file.exists()
    finally:
        embedded_redis.stop(redis_dir)
        services.database.dispose()


def test_the_worker_sweep_replays_the_spool_once_the_database_is_back(
    tmp_path: Path, postgres: PrivatePostgres, redis_url: str, redis_conn: redis.Redis
) -> None:
    settings = _settings(tmp_path, postgres.url, redis_url)
    app, services, _ = _app(settings)
    postgres.stop()
    for body in ("primeira", "segunda"):
        assert post_message(app, settings, body)[0].status_code == 200
    postgres.start()
    services.later = runtime.RqLater(redis_conn)
    assert sweep.replay_spool(services) == 2
    assert _inbound(services.database) == [("primeira", Processing.PENDING), ("segunda", Processing.PENDING)]
    assert redis_conn.llen(SPOOL_KEY) == 0
    assert len(runtime.queue(redis_conn).jobs) == 2  # handed to the workers, like a live message
    services.database.dispose()


def test_while_the_spool_is_not_empty_a_new_message_waits_behind_it(
    tmp_path: Path, postgres: PrivatePostgres, redis_url: str, redis_conn: redis.Redis
) -> None:
    settings = _settings(tmp_path, postgres.url, redis_url)
    app, services, sender = _app(settings)
    postgres.stop()
    assert post_message(app, settings, "primeira")[0].status_code == 200
    postgres.start()
    # Another replayer is at work (it holds the lock): the new message must not be saved before it.
    spool = Spool(redis_conn, settings.var_dir / "spool")
    with spool._replay_lock() as mine:
        assert mine
        assert post_message(app, settings, "segunda")[0].status_code == 200
        assert _inbound(services.database) == []
        assert redis_conn.llen(SPOOL_KEY) == 2
    assert post_message(app, settings, "terceira")[0].status_code == 200
    assert [r.body for r in sender.sent] == ["eco: primeira", "eco: segunda", "eco: terceira"]
    services.database.dispose()
