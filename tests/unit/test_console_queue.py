"""The queue query (bot.console.queue) and who owns a conversation (bot.console.assignments)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.console import assignments
from bot.console import queue as queue_lib
from bot.console.queue import QueueFilter
from bot.db import Database
from bot.models import Channel, Conversation, ConversationState, User, utcnow
from bot.people.roles import NotAllowed
from tests.conftest import People

NOW = utcnow()


def _conversation(
    db: Database,
    people: People | None,
    number: int,
    *,
    minutes: int,
    reason: str | None = "asked",
    state: ConversationState = ConversationState.WAITING_AGENT,
    owner: int | None = None,
    channel: Channel = Channel.WHATSAPP,
    inbound_hours: float = 1,
) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel=channel,
            address=f"+5511999{number:06d}",
            debtor_id=people.debtor_id if people else None,
            state=state,
            handoff_reason=reason,
            handoff_requested_at=NOW - timedelta(minutes=minutes),
            last_inbound_at=NOW - timedelta(hours=inbound_hours),
            assigned_user_id=owner,
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def _load(db: Database, user_id: int, wanted: QueueFilter | None = None) -> queue_lib.Queue:
    with db.session() as s:
        return queue_lib.load(s, s.get_one(User, user_id), wanted or QueueFilter(), NOW)


def test_the_oldest_request_comes_first_and_the_bot_s_conversations_are_not_there(
    db: Database, people: People, team: dict[str, int]
) -> None:
    newer = _conversation(db, people, 1, minutes=5)
    older = _conversation(db, None, 2, minutes=50, reason="legal_threat")
    _conversation(db, people, 3, minutes=90, state=ConversationState.BOT, reason=None)
    found = _load(db, team["ana"])
    assert [e.conversation_id for e in found.entries] == [older, newer]
    first = found.entries[0]
    assert first.debtor_name is None and first.priority and first.waiting_seconds == 50 * 60
    assert first.open_cents == 0 and first.creditors == ()
    second = found.entries[1]
    assert second.debtor_name == "Maria da Silva" and second.open_cents == 35990
    assert second.creditors == ("Loja Exemplo Ltda",) and second.address == "•••• 0001"


def test_the_whatsapp_window_is_open_for_24_hours_after_the_last_message_and_sms_has_none(
    db: Database, people: People, team: dict[str, int]
) -> None:
    _conversation(db, people, 1, minutes=30, inbound_hours=23.5)
    _conversation(db, people, 2, minutes=20, inbound_hours=25)
    _conversation(db, people, 3, minutes=10, channel=Channel.SMS)
    assert [e.window_open for e in _load(db, team["ana"]).entries] == [True, False, None]


def test_an_agent_sees_the_unassigned_and_their_own_a_supervisor_sees_everyone_s(
    db: Database, people: People, team: dict[str, int]
) -> None:
    free = _conversation(db, people, 1, minutes=40)
    anas = _conversation(db, people, 2, minutes=30, state=ConversationState.WITH_AGENT, owner=team["ana"])
    bias = _conversation(db, people, 3, minutes=20, state=ConversationState.WITH_AGENT, owner=team["bia"])
    # Waiting again after the engine gave it back: a stale owner does not hide it from anyone.
    stale = _conversation(db, people, 4, minutes=10, owner=team["bia"])

    def ids(user: str, scope: str = "all") -> list[int]:
        return [e.conversation_id for e in _load(db, team[user], QueueFilter(scope=scope)).entries]

    assert ids("ana") == [free, anas, stale]
    assert ids("sil") == [free, anas, bias, stale]
    assert ids("ana", "mine") == [anas]
    assert ids("sil", "unassigned") == [free, stale]
    entries = {e.conversation_id: e for e in _load(db, team["sil"]).entries}
    assert entries[bias].owner_name == "Bia Lima" and entries[stale].owner_name is None


def test_counts_per_reason_cover_the_whole_visible_queue_whatever_the_reason_filter(
    db: Database, people: People, team: dict[str, int]
) -> None:
    _conversation(db, people, 1, minutes=40, reason="asked")
    _conversation(db, people, 2, minutes=30, reason="asked")
    complaint = _conversation(db, people, 3, minutes=20, reason="complaint")
    _conversation(
        db, people, 4, minutes=10, reason="asked", state=ConversationState.WITH_AGENT, owner=team["bia"]
    )
    found = _load(db, team["ana"], QueueFilter(reason="complaint"))
    assert [e.conversation_id for e in found.entries] == [complaint]
    assert found.counts == {"asked": 2, "complaint": 1} and found.total == 3
    assert QueueFilter.parse(None, "everything") == QueueFilter(None, "all")


def test_two_agents_taking_the_same_conversation_the_second_is_told_who_has_it(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, 1, minutes=5)
    with db.session() as s:
        assignments.take(s, conversation_id, s.get_one(User, team["ana"]))
    with db.session() as s, pytest.raises(NotAllowed, match="já está com Ana Souza"):
        assignments.take(s, conversation_id, s.get_one(User, team["bia"]))
    with db.session() as s:  # a supervisor may take it over
        assignments.take(s, conversation_id, s.get_one(User, team["sil"]))
        assert s.get_one(Conversation, conversation_id).assigned_user_id == team["sil"]


def test_a_conversation_back_with_the_bot_cannot_be_taken(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, 1, minutes=5, state=ConversationState.BOT)
    with db.session() as s, pytest.raises(assignments.AssignmentError, match="está com o robô"):
        assignments.take(s, conversation_id, s.get_one(User, team["ana"]))
    with db.session() as s, pytest.raises(assignments.AssignmentError, match="não encontrada"):
        assignments.take(s, 999_999, s.get_one(User, team["ana"]))


def test_only_active_people_receive_conversations(db: Database, people: People, team: dict[str, int]) -> None:
    conversation_id = _conversation(db, people, 1, minutes=5)
    with db.session() as s:
        bia = s.get_one(User, team["bia"])
        bia.active = False
        with pytest.raises(assignments.AssignmentError, match="não pode receber"):
            assignments.assign(s, conversation_id, bia, s.get_one(User, team["sil"]))
        with pytest.raises(NotAllowed):
            assignments.assign(s, conversation_id, s.get_one(User, team["sil"]), s.get_one(User, team["ana"]))


def test_the_queue_signature_changes_with_rows_and_owners_not_with_time(
    db: Database, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, None, 1, minutes=5)
    before = _load(db, team["sil"]).signature
    with db.session() as s:
        later = queue_lib.load(s, s.get_one(User, team["sil"]), QueueFilter(), NOW + timedelta(minutes=9))
    assert later.signature == before
    with db.session() as s:
        assignments.take(s, conversation_id, s.get_one(User, team["ana"]))
    assert _load(db, team["sil"]).signature != before
