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

from sqlalchemy import bindparam, case, or_, update
from sqlalchemy.orm import Session

from bot.models import Conversation
from bot.owner_ids import new_owner_id

LEASE = timedelta(seconds=60)

# Free, or held by a processor whose lease expired (`claim_now` is the claimer's clock).
_FREE = or_(Conversation.lease_owner.is_(None), Conversation.lease_expires_at < bindparam("claim_now"))
# Typed: inside CASE a parameter would not get the column's type (nor its UTC conversion) by itself.
_OWNER = bindparam("claim_owner", type_=Conversation.lease_owner.type)
_UNTIL = bindparam("claim_until", type_=Conversation.lease_expires_at.type)

# Column values that claim the lease in an UPDATE of the conversation's row when it is free and leave
# it as it is otherwise (the row then names the holder): the webhook sets them in the statement that
# records a new message on its conversation (`dialogue.store_and_claim`). Parameters: `claim_params`.
CLAIM_VALUES: dict[str, Any] = {
    "lease_owner": case((_FREE, _OWNER), else_=Conversation.lease_owner),
    "lease_expires_at": case((_FREE, _UNTIL), else_=Conversation.lease_expires_at),
}

_CLAIM = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"), _FREE)
    .values(lease_owner=_OWNER, lease_expires_at=_UNTIL)
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


def claim_params(owner: str, now: datetime) -> dict[str, Any]:
    """The parameters of `CLAIM_VALUES` for `owner` claiming at `now`."""
    return {"claim_owner": owner, "claim_now": now, "claim_until": now + LEASE}


def claim(session: Session, conversation_id: int, owner: str, now: datetime) -> bool:
    """Claim the conversation for `owner` in the caller's transaction; False if another processor holds it."""
    result = session.connection().execute(
        _CLAIM, {"conversation_id": conversation_id, **claim_params(owner, now)}
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, conversation_id: int, owner: str) -> None:
    """Give the conversation up, if `owner` still holds it."""
    session.connection().execute(_RELEASE, {"conversation_id": conversation_id, "owner": owner})


def renew(session: Session, conversation_id: int, owner: str, now: datetime) -> None:
    """Extend `owner`'s lease from `now`."""
    session.connection().execute(
        _RENEW, {"conversation_id": conversation_id, "owner": owner, "until": now + LEASE}
    )
