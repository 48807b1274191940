"""What is new for one person (bot.console.notifications) and the off-duty notice (bot.console.duty)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.console import duty, notifications
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    ConversationState,
    Direction,
    Message,
    MessageStatus,
    User,
    utcnow,
)

NOW = utcnow()
BEFORE = NOW - timedelta(minutes=1)


def _conversation(
    db: Database,
    number: int,
    *,
    minutes: float,
    state: ConversationState = ConversationState.WAITING_AGENT,
    owner: int | None = None,
) -> int:
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=f"+5511988{number:06d}",
            state=state,
            handoff_reason="asked",
            handoff_requested_at=NOW - timedelta(minutes=minutes),
            last_inbound_at=NOW,
            assigned_user_id=owner,
        )
        s.add(conversation)
        s.flush()
        return conversation.id


def _message(db: Database, conversation_id: int, *, seconds_ago: float, direction: Direction) -> int:
    with db.session() as s:
        message = Message(
            conversation_id=conversation_id,
            direction=direction,
            channel=Channel.WHATSAPP,
            body="oi",
            status=MessageStatus.RECEIVED if direction == Direction.INBOUND else MessageStatus.SENT,
            created_at=NOW - timedelta(seconds=seconds_ago),
        )
        s.add(message)
        s.flush()
        return message.id


def _news(db: Database, user_id: int, since: datetime = BEFORE) -> notifications.News:
    with db.session() as s:
        return notifications.since(s, s.get_one(User, user_id), since, NOW)


def test_a_conversation_entering_the_queue_is_news_for_every_agent_but_an_older_one_is_not(
    db: Database, team: dict[str, int]
) -> None:
    fresh = _conversation(db, 1, minutes=0.5)
    _conversation(db, 2, minutes=10)
    for person in ("ana", "bia", "sil"):
        news = _news(db, team[person])
        assert news.conversations == [fresh], person
        assert news.waiting == 2, person


def test_an_agent_hears_of_debtor_messages_in_their_own_conversations_only(
    db: Database, team: dict[str, int]
) -> None:
    mine = _conversation(db, 1, minutes=30, state=ConversationState.WITH_AGENT, owner=team["ana"])
    hers = _conversation(db, 2, minutes=30, state=ConversationState.WITH_AGENT, owner=team["bia"])
    unowned = _conversation(db, 3, minutes=30)
    in_mine = _message(db, mine, seconds_ago=5, direction=Direction.INBOUND)
    _message(db, mine, seconds_ago=4, direction=Direction.OUTBOUND)  # our answer is not news
    _message(db, mine, seconds_ago=600, direction=Direction.INBOUND)  # before the cursor
    _message(db, hers, seconds_ago=5, direction=Direction.INBOUND)
    _message(db, unowned, seconds_ago=5, direction=Direction.INBOUND)

    ana = _news(db, team["ana"])
    assert ana.messages == [(in_mine, mine)]
    assert ana.waiting == 2  # her own and the unowned one, not Bia's
    assert ana.conversations == []


def test_a_supervisor_hears_of_debtor_messages_in_their_own_conversations_not_in_every_agents(
    db: Database, team: dict[str, int]
) -> None:
    anas = _conversation(db, 1, minutes=30, state=ConversationState.WITH_AGENT, owner=team["ana"])
    bias = _conversation(db, 2, minutes=30, state=ConversationState.WITH_AGENT, owner=team["bia"])
    hers = _conversation(db, 3, minutes=30, state=ConversationState.WITH_AGENT, owner=team["sil"])
    _message(db, anas, seconds_ago=5, direction=Direction.INBOUND)
    _message(db, bias, seconds_ago=5, direction=Direction.INBOUND)
    in_hers = _message(db, hers, seconds_ago=5, direction=Direction.INBOUND)
    fresh = _conversation(db, 4, minutes=0.5)

    sil = _news(db, team["sil"])
    assert sil.messages == [(in_hers, hers)]
    assert sil.conversations == [fresh]
    assert sil.waiting == 4  # she still sees every conversation in the queue


def test_a_disabled_role_hears_nothing_and_the_cursor_never_goes_back_before_the_page(
    db: Database, team: dict[str, int]
) -> None:
    _conversation(db, 1, minutes=0.5)
    with db.session() as s:
        ana = s.get_one(User, team["ana"])
        ana.active = False
        s.flush()
        news = notifications.since(s, ana, BEFORE, NOW)
    assert news.conversations == [] and news.waiting == 0
    # Asked long ago: the next cursor looks back OVERLAP only; asked just now: the page's own moment.
    with db.session() as s:
        sil = s.get_one(User, team["sil"])
        assert (
            notifications.since(s, sil, NOW - timedelta(hours=1), NOW).cursor == NOW - notifications.OVERLAP
        )
        assert notifications.since(s, sil, NOW - timedelta(seconds=2), NOW).cursor == NOW - timedelta(
            seconds=2
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", NOW),
        ("não é data", NOW),
        ((NOW + timedelta(hours=1)).isoformat(), NOW),
        ("2026-01-01T10:00:00", NOW),
    ],
)
def test_an_unreadable_or_future_cursor_means_from_now(text: str, expected: datetime) -> None:
    assert notifications.read_cursor(text, NOW) == expected


def test_a_cursor_sent_back_by_the_page_is_read_as_is() -> None:
    moment = NOW - timedelta(seconds=3)
    assert notifications.read_cursor(moment.isoformat(), NOW) == moment


# Saturday 6 Dec 2025 was a Saturday; 13:00 UTC is 10:00 in Brasília.
SATURDAY_10H = datetime(2025, 12, 6, 13, 0, tzinfo=UTC)


def test_the_queue_shows_no_notice_while_agents_are_on_duty() -> None:
    assert duty.off_duty(Settings(agent_hours="seg-sex 08:00-18:00; sab 08:00-12:00"), SATURDAY_10H) is None


def test_off_duty_the_queue_shows_the_next_opening_in_brazil_local_time() -> None:
    notice = duty.off_duty(Settings(agent_hours="seg-sex 08:00-18:00"), SATURDAY_10H)
    assert notice is not None and notice.opens_at is not None
    assert notice.opens_at.strftime("%d/%m %H:%M") == "08/12 08:00"
    assert notice.opens_at.utcoffset() == timedelta(hours=-3)
    assert notice.words == "na segunda-feira às 8h"


def test_with_no_opening_hours_at_all_the_notice_has_no_opening() -> None:
    assert duty.off_duty(Settings(agent_hours=""), SATURDAY_10H) == duty.OffDuty(None, None)
