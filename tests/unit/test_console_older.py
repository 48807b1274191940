"""Older messages of a long conversation (bot.console.thread `before`, "Carregar mensagens anteriores"):
the page shows the last `PAGE_SIZE`, and each load brings the page before it, with the notes of that
stretch, through the service, the JSON fragment and the no-JavaScript page."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from bot.console import thread as thread_lib
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    ConversationNote,
    ConversationState,
    Direction,
    Message,
    MessageStatus,
    User,
    utcnow,
)
from tests.conftest import PHONE, People
from tests.unit.console_people import PASSWORD, make_user

COUNT = thread_lib.PAGE_SIZE + 50  # 250: a full page and a part of one before it


def _long_conversation(db: Database, people: People, owner: int) -> tuple[int, list[int], int]:
    """A conversation with COUNT messages a minute apart ("mensagem 0" is the oldest) and a note written
    just after message 10; returns its id, the message ids (oldest first) and the note's id."""
    start = utcnow() - timedelta(minutes=COUNT + 5)
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WITH_AGENT,
            assigned_user_id=owner,
            last_inbound_at=start,
        )
        s.add(conversation)
        s.flush()
        rows = [
            {
                "conversation_id": conversation.id,
                "direction": Direction.INBOUND if n % 2 == 0 else Direction.OUTBOUND,
                "channel": Channel.WHATSAPP,
                "body": f"mensagem {n}",
                "media": [],
                "status": MessageStatus.RECEIVED if n % 2 == 0 else MessageStatus.DELIVERED,
                "created_at": start + timedelta(minutes=n),
            }
            for n in range(COUNT)
        ]
        ids = list(s.scalars(insert(Message).returning(Message.id), rows))
        note = ConversationNote(
            conversation_id=conversation.id,
            author_user_id=owner,
            body="nota antiga",
            created_at=start + timedelta(minutes=10, seconds=30),
        )
        s.add(note)
        s.flush()
        return conversation.id, sorted(ids), note.id


def _bodies(items: list[thread_lib.Item]) -> list[str]:
    return [item.body for item in items]


def test_a_long_thread_shows_its_last_page_and_loads_the_older_one_with_its_notes(
    db: Database, people: People
) -> None:
    owner = make_user(db)
    conversation_id, ids, _ = _long_conversation(db, people, owner)
    with db.session() as s:
        latest = thread_lib.load(s, s.get_one(User, owner), conversation_id)
    assert _bodies(latest.items) == [f"mensagem {n}" for n in range(50, COUNT)]
    assert latest.older_than == ids[50] and latest.last_message_id == ids[-1]

    with db.session() as s:
        older = thread_lib.load(s, s.get_one(User, owner), conversation_id, before=latest.older_than)
    expected = [f"mensagem {n}" for n in range(11)] + ["nota antiga"]
    expected += [f"mensagem {n}" for n in range(11, 50)]
    assert _bodies(older.items) == expected  # the note in its place, not on the latest page
    assert older.older_than is None  # nothing before it: no more "load older"


def test_a_thread_of_one_page_has_nothing_older_to_load(db: Database, people: People) -> None:
    owner = make_user(db)
    conversation_id, ids, _ = _long_conversation(db, people, owner)
    with db.session() as s:
        short = thread_lib.load(s, s.get_one(User, owner), conversation_id, before=ids[thread_lib.PAGE_SIZE])
    assert len([i for i in short.items if i.kind != "note"]) == thread_lib.PAGE_SIZE
    assert short.older_than is None


def _login(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))
    assert token
    client.post("/", data={"csrf_token": token.group(1), "email": "ana@regua.example", "password": PASSWORD})
    return client


def test_the_page_links_to_older_messages_and_both_the_fragment_and_the_plain_page_bring_them(
    app: Flask, db: Database, people: People
) -> None:
    owner = make_user(db)
    conversation_id, ids, _ = _long_conversation(db, people, owner)
    client = _login(app)
    page_url = f"/console/conversas/{conversation_id}"
    html = client.get(page_url).get_data(as_text=True)
    assert "Carregar mensagens anteriores" in html and f"before={ids[50]}" in html
    assert ">mensagem 49<" not in html and ">mensagem 50<" in html

    older = client.get(f"{page_url}/anteriores?before={ids[50]}").get_json()
    assert ">mensagem 0<" in older["html"] and ">mensagem 49<" in older["html"]
    assert ">mensagem 50<" not in older["html"] and older["before"] is None

    # Without JavaScript the link opens the older page itself: read-only, with the way back.
    plain = client.get(f"{page_url}?before={ids[50]}").get_data(as_text=True)
    assert ">mensagem 0<" in plain and ">mensagem 50<" not in plain
    assert "Ver as mensagens mais recentes" in plain and 'data-testid="composer"' not in plain
    assert "data-updates" not in plain and "Carregar mensagens anteriores" not in plain
