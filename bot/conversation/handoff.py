"""Handing a conversation to a human agent, and giving it back to the bot.

While a conversation is not in the `bot` state the bot stays silent: the debtor's messages are stored
for the agent and nothing is answered automatically (see bot.conversation.decide).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from bot import audit, texts
from bot.config import Settings
from bot.conversation import identity
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


# Why a conversation waits for a person; these go first in the agents' queue.
PRIORITY_REASONS = ("legal_threat", "complaint")
# The audit action of a handoff, with its reason in the details (the metrics count them: bot.analytics).
HANDOFF_REQUESTED = "conversation.handoff_requested"


def request(session: Session, conversation: Conversation, *, actor: str, reason: str | None = None) -> bool:
    """Move the conversation to `waiting_agent`, recording `reason` (e.g. `legal_threat`, `complaint`,
    `asked`). False when it was already waiting for or with an agent."""
    if conversation.state != ConversationState.BOT:
        return False
    conversation.state = ConversationState.WAITING_AGENT
    conversation.handoff_requested_at = utcnow()
    conversation.handoff_reason = reason
    _audit(session, conversation, actor, HANDOFF_REQUESTED)
    return True


def take(session: Session, conversation: Conversation, *, agent: str) -> None:
    """An agent takes the conversation (`with_agent`)."""
    conversation.state = ConversationState.WITH_AGENT
    _audit(session, conversation, f"agent:{agent}", "conversation.taken")


def release(session: Session, conversation: Conversation, *, actor: str) -> None:
    """Give the conversation back to the bot (and unlock a locked identity check)."""
    conversation.state = ConversationState.BOT
    conversation.handoff_requested_at = None
    conversation.handoff_reason = None
    if conversation.debtor is not None:
        identity.unlock(conversation.debtor)
    _audit(session, conversation, actor, "conversation.released")


def waiting(session: Session) -> list[Conversation]:
    """Conversations waiting for or with an agent: legal threats and complaints first, then the oldest
    request first."""
    urgent = case((Conversation.handoff_reason.in_(PRIORITY_REASONS), 0), else_=1)
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.state != ConversationState.BOT)
            .order_by(urgent, Conversation.handoff_requested_at.asc().nulls_last(), Conversation.id)
        )
    )


def _audit(session: Session, conversation: Conversation, actor: str, action: str) -> None:
    audit.record(
        session,
        actor,
        action,
        "conversation",
        conversation.id,
        state=conversation.state.value,
        reason=conversation.handoff_reason,
    )
