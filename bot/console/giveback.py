"""Giving a conversation back: to the bot ("Devolver ao robô"), or to the queue when its agent left it.

* `give_back`: the owner (or a supervisor) hands the conversation back to the bot, optionally with a
  closing message sent first through the composer's rules and delivery path. Rasa's tracker is told to
  `resume` *before* the change is committed: a paused tracker ignores every message (Rasa's processor
  `_should_handle_message`), so a give-back Rasa did not hear about would leave the bot mute; when Rasa
  cannot be told, nothing changes and the agent is asked to try again.
* `tell_rasa`: a tracker event (`pause` when a person takes the conversation, `resume` when the bot gets
  it back), `POST /conversations/<id>/tracker/events` of Rasa's HTTP API.
* `release_idle`: the minute sweep puts back in the queue (unassigned, still waiting for a person, first
  in line since its request is old) every conversation its owner has not touched for
  `CONSOLE_RELEASE_AFTER_MINUTES`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import audit
from bot.config import Settings
from bot.console import assignments, composer
from bot.console.assignments import owner_id
from bot.models import Conversation, ConversationState, User
from bot.people.accounts import actor
from bot.people.roles import require_act_on_conversation
from bot.rasa.client import RasaClient, RasaUnavailable
from bot.runtime import Services

log = logging.getLogger(__name__)
IDLE_ACTOR = "system:console_idle_release"


def tell_rasa(rasa: RasaClient, conversation_id: int, event: str) -> bool:
    """Append `event` (`pause` or `resume`) to the conversation's Rasa tracker; False when Rasa could not
    be told (logged, never raised)."""
    try:
        rasa.append_event(str(conversation_id), event)
    except RasaUnavailable as error:
        log.warning("conversation %s: Rasa tracker not told %s: %s", conversation_id, event, error)
        return False
    return True


def give_back(
    session: Session,
    services: Services,
    conversation_id: int,
    user: User,
    closing: composer.Draft | None = None,
) -> composer.Saved | None:
    """Give the conversation back to the bot under `user`, in the caller's transaction (the caller commits,
    then `composer.deliver_now` sends the closing message if one was saved). Raises
    `composer.ComposeError`, `assignments.AssignmentError` or `NotAllowed` (pt-BR); nothing is changed."""
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise assignments.AssignmentError(f"Conversa {conversation_id} não encontrada.")
    require_act_on_conversation(user, owner_id(conversation))
    saved = None
    if closing is not None and (closing.text.strip() or closing.content_sid):
        saved = composer.save(session, services.settings, conversation_id, user, closing)
    assignments.release(session, conversation_id, user)
    audit.record(
        session,
        actor(user),
        "conversation.given_back",
        "conversation",
        conversation_id,
        closing_message=saved.message.id if saved else None,
    )
    session.flush()
    if not tell_rasa(services.rasa, conversation_id, "resume"):
        raise composer.ComposeError(
            "O robô não respondeu agora e a conversa continua com você. Tente devolver de novo em instantes."
        )
    return saved


def release_idle(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Put back in the queue the owned conversations untouched for `console_release_after_minutes` (0:
    never), in the caller's transaction; returns their ids. Audited under `IDLE_ACTOR`."""
    minutes = settings.console_release_after_minutes
    if minutes <= 0:
        return []
    last_touch = func.coalesce(
        Conversation.agent_activity_at, Conversation.handoff_requested_at, Conversation.updated_at
    )
    idle = session.scalars(
        select(Conversation)
        .where(
            Conversation.state == ConversationState.WITH_AGENT,
            Conversation.assigned_user_id.is_not(None),
            last_touch < now - timedelta(minutes=minutes),
        )
        .order_by(Conversation.id)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for conversation in idle:
        previous = conversation.assigned_user_id
        conversation.state = ConversationState.WAITING_AGENT
        conversation.assigned_user_id = None
        audit.record(
            session,
            IDLE_ACTOR,
            "conversation.returned_to_queue",
            "conversation",
            conversation.id,
            previous=previous,
            idle_minutes=minutes,
        )
    return [c.id for c in idle]


def sweep_idle(services: Services, now: datetime) -> list[int]:
    """`release_idle` in a transaction of its own (the minute sweep's step)."""
    with services.database.session() as session:
        return release_idle(session, services.settings, now)
