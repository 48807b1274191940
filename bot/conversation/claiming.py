"""Claiming a conversation and looking at its next ready message: the `Lease` a processor works under.

Only one processor works on a conversation at a time: it claims the conversation with a conditional
UPDATE (a lease that expires by itself if the processor dies, bot.conversation.leases), so any number of
web threads and workers is safe. A claim comes with the first look at the next ready message
(bot.conversation.decide); the webhook claims in the very statement that records its message
(`store_and_claim`, bot.conversation.first_look). After each message, `next_lease` lets the
conversation go unless another message is ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.conversation import decide, first_look, inbound, leases
from bot.conversation.inbound import Stored
from bot.db import Database
from bot.delivery import sending
from bot.models import utcnow
from bot.runtime import Services


@dataclass
class Lease:
    """A claim on a conversation (see `claim`): who holds it and the next message, already looked at."""

    owner: str
    held: bool
    step: decide.Step | None = None
    busy: bool = False  # not held because another processor has the conversation
    stop: sending.Delivery | None = None  # the delivery that stopped the previous message's sends


def has_ready_message(database: Database, conversation_id: int) -> bool:
    """True when the conversation has a pending message that may be handled now."""
    with database.session() as session:
        return first_look.ready_message(session, conversation_id, utcnow()) is not None


def claim(services: Services, session: Session, conversation_id: int) -> Lease:
    """Claim the conversation in the caller's transaction and look at its next ready message.

    The claim is a conditional UPDATE (free, or its lease expired), so one processor at a time works
    on a conversation. A message that needs no NLU (PARAR, an agent's conversation, the identity
    answer, ...) is answered right here, its replies saved and claimed for sending: the caller commits
    before anything is sent."""
    owner = leases.new_owner()
    now = utcnow()
    if not leases.claim(session, conversation_id, owner, now):
        return Lease(owner, held=False, busy=True)
    return _first_look(services, session, conversation_id, owner, now)


def store_and_claim(
    services: Services, session: Session, message: inbound.Inbound, owner: str
) -> tuple[Stored, Lease | None]:
    """Save a message the webhook received and claim its conversation for `owner` in the same statement
    that records the message on it, reading what the first look needs there too; then look at the
    conversation's next ready message (usually this one), in the caller's transaction. The lease is
    None for a duplicate."""
    stored = inbound.store(session, message, owner=owner)
    return stored, claim_stored(services, session, stored, owner)


def claim_stored(services: Services, session: Session, stored: Stored, owner: str) -> Lease | None:
    """`claim` for a message `inbound.store` just saved claiming the lease for `owner`, in the same
    transaction: the lease is already decided, so only the look is left. None for a duplicate."""
    conversation = stored.conversation
    held = conversation is not None and conversation.lease_owner == owner
    if stored.duplicate:
        if held:  # claimed for a message its twin saved first: nothing to answer here
            leases.release(session, stored.conversation_id, owner)
        return None
    if not held:
        return Lease(owner, held=False, busy=True)
    return _first_look(services, session, stored.conversation_id, owner, utcnow(), stored)


def _first_look(
    services: Services,
    session: Session,
    conversation_id: int,
    owner: str,
    now: datetime,
    stored: Stored | None = None,
) -> Lease:
    """Look at the conversation's next ready message, or let it go if none is ready; with `stored` (a
    message just saved and claimed), from what its statement read, without a query."""
    seen = stored.first_look if stored is not None else None
    if stored is not None and seen is not None:
        ready = seen.ready(stored.message_id, now)
    else:
        ready = first_look.ready_message(session, conversation_id, now)
    if ready is None:  # e.g. the message waits behind an older one's retry
        leases.release(session, conversation_id, owner)
        return Lease(owner, held=False)
    facts = seen.facts if stored is not None and seen is not None and ready == stored.message_id else None
    return Lease(owner, held=True, step=decide.look(services, session, ready, facts))


def next_lease(services: Services, session: Session, conversation_id: int, owner: str) -> Lease:
    """Release the held conversation if no message is ready, in one statement; else keep it and look at
    the next ready message. A message saved at the same moment is not stranded: its own webhook checks
    for a ready message after committing it (see `answer_inline`)."""
    now = utcnow()
    if first_look.release_if_idle(session, conversation_id, owner, now):
        return Lease(owner, held=False)
    ready = first_look.ready_message(session, conversation_id, now)
    if ready is None:  # the message that kept us was taken meanwhile (by an agent)
        leases.release(session, conversation_id, owner)
        return Lease(owner, held=False)
    return Lease(owner, held=True, step=decide.look(services, session, ready))


def let_go(database: Database, conversation_id: int, owner: str) -> None:
    """Release the conversation before leaving early (deadline, error); a message still ready is left
    to whoever the caller hands the conversation to (or to the sweep)."""
    with database.session() as session:
        leases.release(session, conversation_id, owner)
