"""Handing a conversation to a human agent, and giving it back to the bot.

While a conversation is not in the `bot` state the bot stays silent: the debtor's messages are stored
for the agent and nothing is answered automatically (see bot.dialogue).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit, identity, texts
from bot.config import Settings
from bot.hours import describe_moment, parse_hours
from bot.models import Conversation, ConversationState, utcnow


def when_agents_answer(settings: Settings, now: datetime | None = None) -> str | None:
    """pt-BR words for when an agent will pick the conversation up ("em instantes", "amanhã às 8h"),
    from `AGENT_HOURS`; None when no hours are configured."""
    now = now or utcnow()
    hours = parse_hours(settings.agent_hours)
    opening = hours.next_opening(now)
    if opening is None:
        return None
    if opening == now:
        return texts.AGENT_SOON
    return describe_moment(opening, now, hours.timezone)


def request(session: Session, conversation: Conversation, *, actor: str) -> bool:
    """Move the conversation to `waiting_agent`. False when it was already waiting for or with an agent."""
    if conversation.state != ConversationState.BOT:
        return False
    conversation.state = ConversationState.WAITING_AGENT
    conversation.handoff_requested_at = utcnow()
    _audit(session, conversation, actor, "conversation.handoff_requested")
    return True


def take(session: Session, conversation: Conversation, *, agent: str) -> None:
    """An agent takes the conversation (`with_agent`)."""
    conversation.state = ConversationState.WITH_AGENT
    _audit(session, conversation, f"agent:{agent}", "conversation.taken")


def release(session: Session, conversation: Conversation, *, actor: str) -> None:
    """Give the conversation back to the bot (and unlock a locked identity check)."""
    conversation.state = ConversationState.BOT
    conversation.handoff_requested_at = None
    if conversation.debtor is not None:
        identity.unlock(conversation.debtor)
    _audit(session, conversation, actor, "conversation.released")


def waiting(session: Session) -> list[Conversation]:
    """Conversations waiting for or with an agent, oldest request first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.state != ConversationState.BOT)
            .order_by(Conversation.handoff_requested_at.asc().nulls_last(), Conversation.id)
        )
    )


def _audit(session: Session, conversation: Conversation, actor: str, action: str) -> None:
    audit.record(session, actor, action, "conversation", conversation.id, state=conversation.state.value)
