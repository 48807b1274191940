"""`db.attach_row`: rows written or read with Core statements become ORM objects without a query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, insert, select

from bot.db import Database, attach_row
from bot.models import Channel, Conversation, ConversationState


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_row_returned_by_a_core_statement_is_attached_as_if_loaded(db: Database) -> None:
    with db.session() as s:
        row = (
            s.connection()
            .execute(
                insert(Conversation)
                .values(channel=Channel.SMS, address="+5511987654321")
                .returning(*Conversation.__table__.columns)
            )
            .mappings()
            .one()
        )
        with _statements(db) as seen:
            conversation = attach_row(s, Conversation, row)
        assert conversation.state == ConversationState.BOT and conversation.address == "+5511987654321"
        assert s.get(Conversation, row["id"]) is conversation  # in the identity map
        assert seen == [] and not s.dirty  # clean: no query, nothing to flush
        conversation.state = ConversationState.WAITING_AGENT  # and changes are flushed as usual
    with db.session() as s:
        assert s.scalar(select(Conversation.state)) == ConversationState.WAITING_AGENT


def test_a_column_the_row_lacks_is_loaded_when_read_and_a_loaded_object_is_refreshed(db: Database) -> None:
    with db.session() as s:
        s.add(Conversation(channel=Channel.SMS, address="+5511987654321", our_address="+5511999990000"))
    with db.session() as s:
        conversation_id = s.scalar(select(Conversation.id))
        partial = attach_row(s, Conversation, {"id": conversation_id, "address": "+5511987654321"})
        assert partial.our_address == "+5511999990000"  # read from the database on first use
    with db.session() as s:
        loaded = s.get_one(Conversation, conversation_id)
        again = attach_row(s, Conversation, {"id": conversation_id, "our_address": "+5521999990000"})
        assert again is loaded and loaded.our_address == "+5521999990000"
