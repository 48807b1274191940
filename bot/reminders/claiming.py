"""Claiming due outbox rows for one dispatcher, and holding them: the lease, its renewal and its fence.

A dispatcher claims up to a batch of due rows with one conditional UPDATE (`pending` -> `sending`, with
its name and a lease). On PostgreSQL the inner SELECT uses `FOR UPDATE SKIP LOCKED`, so any number of
dispatchers on any number of machines take disjoint rows; on SQLite the single UPDATE is atomic. Rows
whose lease ran out (a dispatcher killed mid-batch, or one slower than its lease) are claimable again, so
a dispatcher renews the lease of the rows it still holds while its batch runs (`renew`) and, right
before each send, checks that it still holds the message's rows (`fence`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update

from bot.db import Database
from bot.models import OutboxEntry, OutboxStatus, utcnow

LEASE = timedelta(minutes=2)
BATCH_SIZE = 200
# The most advanced date in Brazil (Fernando de Noronha, UTC-2): no debtor's local date is later.
_EARLIEST_ZONE = ZoneInfo("America/Noronha")


def _due(now: datetime) -> object:
    latest_local_date = now.astimezone(_EARLIEST_ZONE).date()
    return or_(
        and_(
            OutboxEntry.status == OutboxStatus.PENDING,
            OutboxEntry.send_on <= latest_local_date,
            or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now),
        ),
        and_(OutboxEntry.status == OutboxStatus.SENDING, OutboxEntry.claimed_until < now),
    )


def claim(
    database: Database, owner: str, *, limit: int = BATCH_SIZE, now: datetime | None = None
) -> list[int]:
    """Claim up to `limit` due rows for `owner` with one conditional UPDATE; returns their ids."""
    now = now or utcnow()
    with database.session() as session:
        candidates = select(OutboxEntry.id).where(_due(now)).order_by(OutboxEntry.send_on, OutboxEntry.id)
        candidates = candidates.limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            # A MATERIALIZED CTE runs the locking SELECT exactly once. As a plain `IN (subquery)` PostgreSQL
            # may plan a nested-loop semi join that rescans the subquery for every outer row (it does when
            # the outbox's statistics predate the planner's rows); each rescan skips the rows this UPDATE
            # already changed and returns the next ones, so the claim took every due row, not `limit`.
            locked = candidates.with_for_update(skip_locked=True)
            claimable = locked.cte("claimable").prefix_with("MATERIALIZED")
            chosen = OutboxEntry.id.in_(select(claimable.c.id))
        else:
            chosen = OutboxEntry.id.in_(candidates.scalar_subquery())
        claimed = session.scalars(
            update(OutboxEntry)
            .where(chosen, _due(now))
            .values(
                status=OutboxStatus.SENDING,
                claimed_by=owner,
                claimed_until=now + LEASE,
                attempts=OutboxEntry.attempts + 1,
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        ).all()
    return list(claimed)


def fence(database: Database, owner: str, message_id: int, now: datetime) -> bool:
    """Just before sending `message_id`: True if `owner` still holds every row of it (lease not run out at
    `now`), renewing their lease; False if any was lost (possibly reclaimed by another dispatcher: skip)."""
    with database.session() as session:
        held = session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.message_id == message_id,
                OutboxEntry.status == OutboxStatus.SENDING,
                OutboxEntry.claimed_by == owner,
                OutboxEntry.claimed_until >= now,
            )
            .values(claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        rows = session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.message_id == message_id)
        )
    return bool(held) and held == rows


def renew(database: Database, owner: str, now: datetime) -> None:
    """Heartbeat: extend the lease of the rows `owner` still holds at `now` (never of one run out)."""
    with database.session() as session:
        session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.status == OutboxStatus.SENDING,
                OutboxEntry.claimed_by == owner,
                OutboxEntry.claimed_until >= now,
            )
            .values(claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )


def pending_count(database: Database, now: datetime | None = None) -> int:
    """How many rows are due now (for the scheduler's decision to start dispatchers)."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(_due(now or utcnow()))) or 0


def due_backlog(database: Database, now: datetime | None = None) -> dict[str, object]:
    """The outbox rows due and not sent, by status (`pending`, `sending`), and the oldest due date among
    them (None when there is none). One range scan of the (status, send_on) index, cheap however many
    rows were sent before (`/metrics` asks every few seconds)."""
    now = now or utcnow()
    latest_local_date = now.astimezone(_EARLIEST_ZONE).date()
    unsent = (OutboxStatus.PENDING, OutboxStatus.SENDING)
    with database.session() as session:
        rows = session.execute(
            select(OutboxEntry.status, func.count(), func.min(OutboxEntry.send_on))
            .where(OutboxEntry.status.in_(unsent), OutboxEntry.send_on <= latest_local_date)
            .group_by(OutboxEntry.status)
        ).all()
    counts = {status.value: 0 for status in unsent}
    counts.update({OutboxStatus(status).value: count for status, count, _first in rows})
    return {"counts": counts, "oldest_due_on": min((first for *_, first in rows if first), default=None)}
