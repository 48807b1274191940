"""The conversation page's services: the thread (bot.console.thread), the composer's rules and its
idempotency (bot.console.composer), giving back to the bot and the idle release (bot.console.giveback)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import runtime
from bot.channels import PermanentSendError
from bot.config import Settings, override
from bot.console import assignments, composer, giveback
from bot.console import thread as thread_lib
from bot.db import Database
from bot.models import (
    AuditLog,
    Channel,
    Conversation,
    ConversationState,
    Direction,
    Message,
    MessageStatus,
    OptOutAction,
    User,
    utcnow,
)
from bot.optout import record_for_conversation
from bot.people.roles import NotAllowed
from tests.conftest import PHONE, People
from tests.unit.conftest import FakeRasa, FakeSender
from tests.unit.console_people import SUNDAY_NIGHT, WEEKDAY_NOON, save_draft


def _conversation(
    db: Database,
    people: People,
    *,
    owner: int | None,
    wrote_at: datetime,
    channel: Channel = Channel.WHATSAPP,
) -> int:
    """A conversation handed to a person (owned by `owner`, or waiting), the debtor's last message at
    `wrote_at`, with one inbound message and one bot reply."""
    with db.session() as s:
        conversation = Conversation(
            channel=channel,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WITH_AGENT if owner else ConversationState.WAITING_AGENT,
            handoff_reason="asked",
            handoff_requested_at=wrote_at,
            last_inbound_at=wrote_at,
            assigned_user_id=owner,
            agent_activity_at=wrote_at,
        )
        s.add(conversation)
        s.flush()
        s.add_all(
            [
                Message(
                    conversation_id=conversation.id,
                    direction=Direction.INBOUND,
                    channel=channel,
                    body="quero falar com uma pessoa",
                    status=MessageStatus.RECEIVED,
                    media=[{"url": "https://api.twilio.com/x/Media/ME1", "content_type": "image/jpeg"}],
                ),
                Message(
                    conversation_id=conversation.id,
                    direction=Direction.OUTBOUND,
                    channel=channel,
                    body="Um momento, já chamo alguém.",
                    status=MessageStatus.DELIVERED,
                ),
            ]
        )
        return conversation.id


def _outbound_by_agents(db: Database, conversation_id: int) -> list[Message]:
    with db.session() as s:
        return list(
            s.scalars(
                select(Message).where(
                    Message.conversation_id == conversation_id, Message.sent_by_user_id.is_not(None)
                )
            )
        )


def test_the_thread_shows_every_message_in_order_with_its_kind_status_and_the_notes(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        thread_lib.add_note(
            s, conversation_id, s.get_one(User, team["ana"]), "  Cliente irritada, ir com calma. "
        )
    with db.session() as s:
        found = thread_lib.load(s, s.get_one(User, team["ana"]), conversation_id)
    assert [i.kind for i in found.items] == ["debtor", "bot", "note"]
    debtor, bot, note = found.items
    assert debtor.media[0]["image"] is False  # Twilio's media URL needs credentials: a link, not an image
    assert bot.status_label == "Entregue" and debtor.status is None
    assert note.body == "Cliente irritada, ir com calma." and note.author == "Ana Souza"
    assert found.can_act and found.last_note_id == note.id


def test_a_poll_returns_only_what_is_newer_than_the_page(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        first = thread_lib.load(s, s.get_one(User, team["ana"]), conversation_id)
    with db.session() as s:
        s.add(
            Message(
                conversation_id=conversation_id,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                body="ainda está aí?",
                status=MessageStatus.RECEIVED,
            )
        )
    with db.session() as s:
        news = thread_lib.load(
            s,
            s.get_one(User, team["ana"]),
            conversation_id,
            after=first.last_message_id,
            notes_after=first.last_note_id,
        )
    assert [i.body for i in news.items] == ["ainda está aí?"]
    assert news.last_message_id > first.last_message_id


def test_another_agent_can_neither_read_nor_act_on_a_conversation_someone_else_owns(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with pytest.raises(NotAllowed), db.session() as s:
        thread_lib.load(s, s.get_one(User, team["bia"]), conversation_id)
    with pytest.raises(NotAllowed):
        save_draft(db, settings, conversation_id, team["bia"], composer.Draft("n-bia", "oi"), WEEKDAY_NOON)
    with pytest.raises(NotAllowed), db.session() as s:
        thread_lib.add_note(s, conversation_id, s.get_one(User, team["bia"]), "nota")
    with db.session() as s:  # a supervisor may do both
        assert thread_lib.load(s, s.get_one(User, team["sil"]), conversation_id).can_act
    assert not save_draft(
        db, settings, conversation_id, team["sil"], composer.Draft("n-sil", "oi"), WEEKDAY_NOON
    ).duplicate


def test_a_waiting_conversation_must_be_taken_before_answering(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=None, wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        assert not thread_lib.load(s, s.get_one(User, team["bia"]), conversation_id).can_act
    with pytest.raises(NotAllowed, match="Assuma"):
        save_draft(db, settings, conversation_id, team["bia"], composer.Draft("n1", "oi"), WEEKDAY_NOON)


def test_inside_the_24_hour_window_free_text_goes_through_the_delivery_path_under_the_agent(
    db: Database,
    settings: Settings,
    services: runtime.Services,
    sender: FakeSender,
    people: People,
    team: dict[str, int],
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON - timedelta(hours=3))
    saved = save_draft(
        db, settings, conversation_id, team["ana"], composer.Draft("n1", " Olá, Maria! "), WEEKDAY_NOON
    )
    composer.deliver_now(services, conversation_id)
    [message] = _outbound_by_agents(db, conversation_id)
    assert message.id == saved.message.id and message.sent_by_user_id == team["ana"]
    assert message.status == MessageStatus.QUEUED and message.provider_sid
    assert [r.body for r in sender.sent] == ["Olá, Maria!"] and sender.sent[0].to == PHONE
    with db.session() as s:
        actions = s.scalars(select(AuditLog.actor).where(AuditLog.action == "message.sent_by_agent")).all()
    assert actions == [f"agent:{team['ana']}"]


def test_outside_the_24_hour_window_only_an_approved_template_can_be_sent(
    db: Database,
    settings: Settings,
    services: runtime.Services,
    sender: FakeSender,
    people: People,
    team: dict[str, int],
) -> None:
    conversation_id = _conversation(
        db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON - timedelta(hours=30)
    )
    with db.session() as s:
        rules = composer.rules(s, settings, s.get_one(Conversation, conversation_id), WEEKDAY_NOON)
    assert not rules.free_text and rules.templates and rules.can_send
    with pytest.raises(composer.ComposeError, match="modelo aprovado"):
        save_draft(db, settings, conversation_id, team["ana"], composer.Draft("n1", "oi"), WEEKDAY_NOON)
    with pytest.raises(composer.ComposeError, match="não está entre"):
        save_draft(
            db,
            settings,
            conversation_id,
            team["ana"],
            composer.Draft("n2", content_sid="HX" + "0" * 32),
            WEEKDAY_NOON,
        )
    sid = rules.templates[0].content_sid
    save_draft(
        db, settings, conversation_id, team["ana"], composer.Draft("n3", content_sid=sid), WEEKDAY_NOON
    )
    composer.deliver_now(services, conversation_id)
    [request] = sender.sent
    assert (
        request.content_sid == sid
        and request.content_variables
        and "Maria" in request.content_variables.values()
    )


def test_sms_has_no_24_hour_window(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(
        db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON - timedelta(days=5), channel=Channel.SMS
    )
    with db.session() as s:
        rules = composer.rules(s, settings, s.get_one(Conversation, conversation_id), WEEKDAY_NOON)
    assert rules.free_text and rules.templates == []


def test_an_opted_out_channel_cannot_be_written_to(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        record_for_conversation(
            s, s.get_one(Conversation, conversation_id), OptOutAction.OPT_OUT, source="test"
        )
    with pytest.raises(composer.ComposeError, match="não receber"):
        save_draft(db, settings, conversation_id, team["ana"], composer.Draft("n1", "oi"), WEEKDAY_NOON)
    assert _outbound_by_agents(db, conversation_id) == []


def test_outside_the_legal_window_a_reply_goes_but_a_proactive_message_needs_a_confirmation(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    just_wrote = _conversation(db, people, owner=team["ana"], wrote_at=SUNDAY_NIGHT - timedelta(minutes=10))
    assert not save_draft(
        db, settings, just_wrote, team["ana"], composer.Draft("n1", "Oi!"), SUNDAY_NIGHT
    ).duplicate
    with db.session() as s:  # the same debtor, now written to hours after their last message
        s.get_one(Conversation, just_wrote).last_inbound_at = SUNDAY_NIGHT - timedelta(hours=5)
    with pytest.raises(composer.ComposeError, match="Confirme"):
        save_draft(db, settings, just_wrote, team["ana"], composer.Draft("n2", "Oi de novo"), SUNDAY_NIGHT)
    confirmed = composer.Draft("n3", "Oi de novo", confirmed=True)
    assert not save_draft(db, settings, just_wrote, team["ana"], confirmed, SUNDAY_NIGHT).duplicate
    with db.session() as s:
        details = s.scalars(select(AuditLog.details).where(AuditLog.action == "message.sent_by_agent")).all()
    assert [d["confirmed_outside_window"] for d in details] == [False, True]


def test_the_same_form_sent_twice_saves_and_sends_one_message(
    db: Database,
    settings: Settings,
    services: runtime.Services,
    sender: FakeSender,
    people: People,
    team: dict[str, int],
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    first = save_draft(
        db, settings, conversation_id, team["ana"], composer.Draft("same", "Olá"), WEEKDAY_NOON
    )
    composer.deliver_now(services, conversation_id)
    again = save_draft(
        db, settings, conversation_id, team["ana"], composer.Draft("same", "Olá"), WEEKDAY_NOON
    )
    composer.deliver_now(services, conversation_id)
    assert again.duplicate and again.message.id == first.message.id
    assert len(sender.sent) == 1 and len(_outbound_by_agents(db, conversation_id)) == 1


def test_two_submits_of_one_form_at_the_same_moment_save_one_message(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    start = threading.Barrier(2)
    outcomes: list[bool] = []

    def submit() -> None:
        start.wait()
        outcomes.append(
            save_draft(
                db, settings, conversation_id, team["ana"], composer.Draft("race", "Olá"), WEEKDAY_NOON
            ).duplicate
        )

    workers = [threading.Thread(target=submit) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == [False, True]
    assert len(_outbound_by_agents(db, conversation_id)) == 1


def test_an_answer_written_before_someone_else_s_newer_answer_was_seen_is_refused(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        seen = s.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation_id))
    save_draft(
        db,
        settings,
        conversation_id,
        team["ana"],
        composer.Draft("ana", "Oi", seen_message_id=seen),
        WEEKDAY_NOON,
    )
    late = composer.Draft("sil", "Oi, aqui é a supervisora", seen_message_id=seen)
    with pytest.raises(composer.ComposeError, match="Outra pessoa"):
        save_draft(db, settings, conversation_id, team["sil"], late, WEEKDAY_NOON)
    assert len(_outbound_by_agents(db, conversation_id)) == 1


def test_a_failed_send_is_explained_and_its_retry_sends_once(
    db: Database,
    settings: Settings,
    services: runtime.Services,
    sender: FakeSender,
    people: People,
    team: dict[str, int],
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    sender.failures.append(PermanentSendError("outside the window", code=63016))
    failed = save_draft(
        db, settings, conversation_id, team["ana"], composer.Draft("n1", "Olá"), WEEKDAY_NOON
    ).message
    composer.deliver_now(services, conversation_id)
    with db.session() as s:
        item = thread_lib.load(s, s.get_one(User, team["ana"]), conversation_id).items[-1]
    assert item.failed and item.status_label == "Falhou" and "24 horas" in (item.error or "")
    for _ in range(2):  # a double click on "Tentar de novo"
        with db.session() as s:
            composer.retry(s, settings, conversation_id, failed.id, s.get_one(User, team["ana"]))
        composer.deliver_now(services, conversation_id)
    assert [r.body for r in sender.sent] == ["Olá"]
    assert len(_outbound_by_agents(db, conversation_id)) == 2


def test_giving_back_clears_the_owner_sends_the_closing_message_and_resumes_rasa(
    db: Database,
    services: runtime.Services,
    fake_rasa: FakeRasa,
    sender: FakeSender,
    people: People,
    team: dict[str, int],
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with db.session() as s:
        saved = giveback.give_back(
            s, services, conversation_id, s.get_one(User, team["ana"]), composer.Draft("bye", "Até logo!")
        )
    assert saved is not None
    composer.deliver_now(services, conversation_id)
    with db.session() as s:
        conversation = s.get_one(Conversation, conversation_id)
        assert conversation.state == ConversationState.BOT and conversation.assigned_user_id is None
        actors = set(
            s.scalars(
                select(AuditLog.actor).where(
                    AuditLog.action.in_(["conversation.given_back", "conversation.released"])
                )
            )
        )
    assert actors == {f"agent:{team['ana']}"}
    assert fake_rasa.events == [(str(conversation_id), "resume")]
    assert [r.body for r in sender.sent] == ["Até logo!"]


def test_when_rasa_cannot_be_told_the_conversation_stays_with_the_agent(
    db: Database, services: runtime.Services, fake_rasa: FakeRasa, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    fake_rasa.down = True
    with pytest.raises(composer.ComposeError, match="continua com você"), db.session() as s:
        giveback.give_back(s, services, conversation_id, s.get_one(User, team["ana"]))
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).state == ConversationState.WITH_AGENT


def test_another_agent_cannot_give_back_someone_else_s_conversation(
    db: Database, services: runtime.Services, fake_rasa: FakeRasa, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=team["ana"], wrote_at=WEEKDAY_NOON)
    with pytest.raises(NotAllowed), db.session() as s:
        giveback.give_back(s, services, conversation_id, s.get_one(User, team["bia"]))
    assert fake_rasa.events == []


def test_a_conversation_its_agent_left_untouched_goes_back_to_the_queue(
    db: Database, settings: Settings, people: People, team: dict[str, int]
) -> None:
    now = WEEKDAY_NOON
    idle = _conversation(db, people, owner=team["ana"], wrote_at=now - timedelta(minutes=61))
    with db.session() as s:
        busy = Conversation(
            channel=Channel.SMS,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WITH_AGENT,
            assigned_user_id=team["bia"],
            handoff_requested_at=now - timedelta(hours=5),
            agent_activity_at=now - timedelta(minutes=10),
        )
        s.add(busy)
        s.flush()
        busy_id = busy.id
    with db.session() as s:
        assert giveback.release_idle(s, settings, now) == [idle]
    with db.session() as s:
        back = s.get_one(Conversation, idle)
        assert back.state == ConversationState.WAITING_AGENT and back.assigned_user_id is None
        assert s.get_one(Conversation, busy_id).assigned_user_id == team["bia"]
    with db.session() as s:  # 0 turns the release off
        s.get_one(Conversation, busy_id).agent_activity_at = now - timedelta(days=2)
    with db.session() as s:
        assert giveback.release_idle(s, override(settings, console_release_after_minutes=0), now) == []


def test_taking_a_conversation_starts_the_idle_clock(
    db: Database, people: People, team: dict[str, int]
) -> None:
    conversation_id = _conversation(db, people, owner=None, wrote_at=WEEKDAY_NOON - timedelta(days=1))
    with db.session() as s:
        assignments.take(s, conversation_id, s.get_one(User, team["ana"]))
    with db.session() as s:
        touched = s.get_one(Conversation, conversation_id).agent_activity_at
    assert touched is not None and touched > utcnow() - timedelta(minutes=1)
