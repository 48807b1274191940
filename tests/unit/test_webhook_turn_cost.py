"""What one webhook turn costs the database: the statements it sends and the transactions they run in.

docs/conversation.md promises five statements in two transactions for a message answered in the
webhook's TwiML response; these tests count them on the real path, so a change that adds a round trip
fails here rather than in a benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from bot import runtime
from bot.config import Settings, override
from bot.db import Database
from bot.models import Conversation, Direction, Message
from bot.rasa.client import Prediction
from tests.conftest import People
from tests.unit.conftest import FakeRasa, FakeSender, post_message
from webhooks import create_app

ACCOUNT = "AC" + "2" * 32


@dataclass
class Traffic:
    """The SQL statements sent and the transactions committed while a block runs."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0

    def verbs(self) -> list[str]:
        return [s.split(None, 1)[0].upper() for s in self.statements]


@contextmanager
def _traffic(db: Database) -> Iterator[Traffic]:
    seen = Traffic()

    def record(*args: object) -> None:
        seen.statements.append(str(args[2]))

    def committed(*_args: object) -> None:
        seen.commits += 1

    event.listen(db.engine, "before_cursor_execute", record)
    event.listen(db.engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
        event.remove(db.engine, "commit", committed)


@pytest.fixture
def twilio_app(settings: Settings, db: Database, services: runtime.Services) -> Flask:
    """The web app with a Twilio account (not the sandbox): replies go back as TwiML."""
    twilio_settings = override(
        settings, twilio_account_sid=ACCOUNT, twilio_auth_token="twilio-token-0123456789"
    )
    services.settings = twilio_settings
    app = create_app(twilio_settings)
    app.extensions["regua_services"] = services
    return app


def test_a_message_answered_in_the_twiml_response_costs_five_statements_in_two_transactions(
    twilio_app: Flask, db: Database, people: People, sender: FakeSender
) -> None:
    settings = twilio_app.extensions["regua_services"].settings
    post_message(twilio_app, settings, "oi")  # the conversation exists from here on
    with _traffic(db) as seen:
        response, _ = post_message(twilio_app, settings, "quanto devo?")
    assert response.status_code == 200 and b"eco: quanto devo?" in response.data
    # save + claim + look (UPDATE, INSERT); answer, replies, release (UPDATE, INSERT, UPDATE)
    assert seen.verbs() == ["UPDATE", "INSERT", "UPDATE", "INSERT", "UPDATE"]
    assert seen.commits == 2 and sender.sent == []


def test_the_prediction_rasa_reports_adds_one_insert_to_the_answers_transaction(
    twilio_app: Flask, db: Database, people: People, sender: FakeSender, fake_rasa: FakeRasa
) -> None:
    settings = twilio_app.extensions["regua_services"].settings
    post_message(twilio_app, settings, "oi")
    fake_rasa.predict = lambda _text: Prediction("consultar_divida", 0.97, [("consultar_divida", 0.97)])
    with _traffic(db) as seen:
        response, _ = post_message(twilio_app, settings, "quanto devo?")
    assert response.status_code == 200 and b"eco: quanto devo?" in response.data
    # ... answer, its prediction (bot.nlu_ops.recording), replies, release
    assert seen.verbs() == ["UPDATE", "INSERT", "UPDATE", "INSERT", "INSERT", "UPDATE"]
    assert seen.commits == 2


def test_the_same_message_delivered_twice_is_saved_and_answered_once_and_gives_its_lease_back(
    twilio_app: Flask, db: Database, people: People
) -> None:
    settings = twilio_app.extensions["regua_services"].settings
    post_message(twilio_app, settings, "oi")
    first, form = post_message(twilio_app, settings, "manda o pix")
    with _traffic(db) as seen:
        again, _ = post_message(twilio_app, settings, "manda o pix", sid=form["MessageSid"])
    assert b"eco: manda o pix" in first.data and b"<Message" not in again.data
    # The conversation's UPDATE claimed the lease, the INSERT found the conflict: one look-up of the
    # message saved first, and the lease given back, in one transaction.
    assert seen.verbs() == ["UPDATE", "INSERT", "SELECT", "UPDATE"] and seen.commits == 1
    with db.session() as s:
        inbound = Message.direction == Direction.INBOUND
        assert s.scalar(select(func.count()).select_from(Message).where(inbound)) == 2
        assert s.scalars(select(Conversation.lease_owner)).one() is None
