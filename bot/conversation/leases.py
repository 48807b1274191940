"""The conversation lease: one processor at a time per conversation keeps a debtor's messages in order.

A processor claims a conversation with a conditional UPDATE of its `lease_owner`/`lease_expires_at`
columns (free, or its lease expired), so any number of web threads and workers is safe, and the lease
expires by itself if the processor dies. The statements are built once, with bound parameters: building
a statement costs more CPU than running it on this hot path (one turn runs several); and they run on
the session's connection (Core), which skips the ORM's per-statement work they do not need.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session

from bot.models import Conversation
from bot.owner_ids import new_owner_id

LEASE = timedelta(seconds=60)


def is_free(now: Any) -> Any:
    """The lease's one rule, as an SQL condition on the conversation's row: nobody holds it, or its
    holder's lease expired before `now` (an expression or parameter). Every claim uses it: `claim`, the
    webhook's statement (bot.conversation.first_look) and the sweep."""
    return or_(Conversation.lease_owner.is_(None), Conversation.lease_expires_at < now)


_CLAIM = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"), is_free(bindparam("claim_now")))
    .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("until"))
    .execution_options(synchronize_session=False)
)
_HELD = (Conversation.id == bindparam("conversation_id"), Conversation.lease_owner == bindparam("owner"))
_RELEASE = (
    update(Conversation)
    .where(*_HELD)
    .values(lease_owner=None, lease_expires_at=None)
    .execution_options(synchronize_session=False)
)
_RENEW = (
    update(Conversation)
    .where(*_HELD)
    .values(lease_expires_at=bindparam("until"))
    .execution_options(synchronize_session=False)
)


def new_owner() -> str:
    """A fresh lease owner id (host, process, random part)."""
    return new_owner_id()


def claim(session: Session, conversation_id: int, owner: str, now: datetime) -> bool:
    """Claim the conversation for `owner` in the caller's transaction; False if another processor holds it."""
    params = {"conversation_id": conversation_id, "owner": owner, "claim_now": now, "until": now + LEASE}
    result = session.connection().execute(_CLAIM, params)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, conversation_id: int, owner: str) -> None:
    """Give the conversation up, if `owner` still holds it."""
    session.connection().execute(_RELEASE, {"conversation_id": conversation_id, "owner": owner})


def renew(session: Session, conversation_id: int, owner: str, now: datetime) -> None:
    """Extend `owner`'s lease from `now`."""
    session.connection().execute(
        _RENEW, {"conversation_id": conversation_id, "owner": owner, "until": now + LEASE}
    )
