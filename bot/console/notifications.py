"""What is new for one person since a moment: conversations that entered the queue and debtor messages in
the conversations they own, for the console's alerts (banner, sound, browser notification, title count).

Roles decide what counts (`bot.people.roles` only): everyone hears of a conversation entering the queue
(nobody owns it yet) and of the debtor's messages in the conversations they own themselves. A supervisor
or admin (`Permission.SEE_ALL`) counts every conversation in the queue, but is not alerted of every
message in every agent's conversation: that would ring all day and drown what is theirs.

The cursor is a moment, not an id: a handoff is stamped when it is requested but becomes visible when its
transaction commits, which may be a little later, so each answer looks back `OVERLAP` before the moment
it was asked (never before the page was loaded) and the page ignores ids it has already announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.models import Conversation, ConversationState, Direction, Message, User
from bot.people.roles import Permission, can

OVERLAP = timedelta(seconds=30)
LIMIT = 50  # more than any page shows at once; the counts stay exact
_QUEUED = (ConversationState.WAITING_AGENT, ConversationState.WITH_AGENT)


@dataclass(frozen=True)
class News:
    """What is new: ids of conversations newly waiting, ids of new debtor messages (with their
    conversation), how many conversations the person sees in the queue, and the cursor to ask from."""

    conversations: list[int]
    messages: list[tuple[int, int]]  # (message id, conversation id)
    waiting: int
    cursor: datetime


def read_cursor(text: str | None, now: datetime) -> datetime:
    """The moment a page sent back (ISO 8601, UTC); `now` when missing, unreadable or in the future."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return now
    if moment.tzinfo is None or moment > now:
        return now
    return moment


def _unowned() -> ColumnElement[bool]:
    return or_(Conversation.state == ConversationState.WAITING_AGENT, Conversation.assigned_user_id.is_(None))


def since(session: Session, viewer: User, moment: datetime, now: datetime) -> News:
    """What is new for `viewer` after `moment` (up to `now`); nothing for someone without the console."""
    cursor = max(moment, now - OVERLAP)
    if not can(viewer, Permission.USE_CONSOLE):
        return News([], [], 0, cursor)
    sees_all = can(viewer, Permission.SEE_ALL)
    in_queue: list[ColumnElement[bool]] = [Conversation.state.in_(_QUEUED)]
    if not sees_all:
        in_queue.append(or_(_unowned(), Conversation.assigned_user_id == viewer.id))
    waiting = session.scalar(select(func.count()).select_from(Conversation).where(*in_queue)) or 0

    entered = [
        Conversation.state == ConversationState.WAITING_AGENT,
        Conversation.handoff_requested_at > moment,
    ]
    conversations = session.scalars(
        select(Conversation.id).where(*entered).order_by(Conversation.handoff_requested_at).limit(LIMIT)
    ).all()

    # Only the viewer's own conversations, whatever the role (a supervisor reads the others in the queue).
    owned = and_(
        Conversation.state == ConversationState.WITH_AGENT, Conversation.assigned_user_id == viewer.id
    )
    messages = session.execute(
        select(Message.id, Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(owned, Message.direction == Direction.INBOUND, Message.created_at > moment)
        .order_by(Message.id)
        .limit(LIMIT)
    ).all()
    return News(list(conversations), [(m, c) for m, c in messages], int(waiting), cursor)
