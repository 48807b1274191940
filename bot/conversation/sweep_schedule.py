"""When the minute sweep (`bot.conversation.sweep.sweep`) runs: one job per minute on RQ, scheduled by the
sweep itself and re-seeded by the scheduler process.

Jobs are named by dotted path, so the scheduler can supervise the chain without importing
`bot.conversation.sweep` (which imports the composition root, which imports this module).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from rq import Queue

DEFAULT_QUEUE = "default"
RESULT_TTL = 600
SWEEP_EVERY = timedelta(seconds=60)
SWEEP_JOB = "bot.conversation.sweep.sweep"


def _next_slot() -> datetime:
    return (datetime.now(UTC) + SWEEP_EVERY).replace(second=0, microsecond=0)


def _job_id(slot: datetime) -> str:
    return f"regua-sweep-{slot:%Y%m%d%H%M}"


def schedule_sweep(q: Queue | None) -> None:
    """Schedule the next sweep at the start of the next minute (one job per minute, whoever asks)."""
    if q is None:
        return
    slot = _next_slot()
    q.enqueue_at(slot, SWEEP_JOB, job_id=_job_id(slot), result_ttl=RESULT_TTL, job_timeout=300)


def ensure_sweep(conn: redis.Redis) -> None:
    """Make sure the sweep chain runs: schedule the next minute's sweep unless it already is. Called by
    the supervising scheduler process at every tick, so a chain lost with Redis is re-seeded."""
    if conn.exists(f"rq:job:{_job_id(_next_slot())}"):
        return
    schedule_sweep(Queue(DEFAULT_QUEUE, connection=conn))
