"""The scheduler process: plans due steps and keeps dispatchers running while there is work.

Each `tick` (every 30 s) plans today's steps (idempotent: the outbox's unique constraints make a second
plan a no-op) and, when rows are due, makes sure `REMINDER_DISPATCHERS` dispatch jobs are queued or
running on the `reminders` RQ queue (the `dispatcher` processes run them). All state is in the database
and Redis, so a restarted scheduler loses and repeats nothing. SIGTERM ends the loop after the current
tick. A heartbeat key in Redis lets `regua health` see it. Each tick also supervises the workers' minute
sweep (bot.conversation.sweep, scheduled by bot.conversation.sweep_schedule): if no sweep is scheduled
for the next minute (Redis lost it), it schedules one.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime

import redis
from rq import Queue
from rq.registry import StartedJobRegistry

from bot.config import Settings
from bot.conversation.sweep_schedule import ensure_sweep
from bot.db import Database
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import utcnow
from bot.reminders import dispatch, planner

log = logging.getLogger(__name__)

QUEUE = "reminders"
HEARTBEAT_KEY = "regua:scheduler:heartbeat"
TICK_SECONDS = 30.0
PLANNING_ZONE = DEFAULT_TZ  # the planner's "today" (a debtor's own day is checked at sending)


@dataclass(frozen=True)
class TickResult:
    """What one tick did."""

    planned: int
    due: int
    dispatchers_started: int

    @property
    def found_work(self) -> bool:
        """True when the tick planned rows or started dispatchers."""
        return bool(self.planned or self.dispatchers_started)


def reminders_queue(conn: redis.Redis) -> Queue:
    """The RQ queue the dispatch jobs run on."""
    return Queue(QUEUE, connection=conn)


def active_dispatchers(queue: Queue) -> int:
    """Dispatch jobs waiting or running."""
    return queue.count + StartedJobRegistry(queue=queue).count


def ensure_dispatchers(settings: Settings, conn: redis.Redis) -> int:
    """Queue dispatch jobs up to `REMINDER_DISPATCHERS`; returns how many were queued."""
    queue = reminders_queue(conn)
    missing = max(settings.reminder_dispatchers - active_dispatchers(queue), 0)
    for _ in range(missing):
        # By dotted path, as every RQ job (bot.runtime): the scheduler never imports the jobs it queues.
        queue.enqueue(
            "bot.reminders.jobs.dispatch_reminders", job_timeout=600, result_ttl=600, failure_ttl=86400
        )
    return missing


def _reseed_sweep(conn: redis.Redis) -> None:
    """Supervise the worker's minute sweep: re-seed its chain if no sweep is scheduled (a Redis flush or
    restart loses it). Never fails the tick."""
    try:
        ensure_sweep(conn)
    except Exception:
        log.exception("could not re-seed the sweep; next tick")


def tick(
    settings: Settings, database: Database, conn: redis.Redis, now: datetime | None = None
) -> TickResult:
    """Plan today's steps and start dispatchers if rows are due."""
    now = now or utcnow()
    _reseed_sweep(conn)
    with database.session() as session:
        planned = planner.plan(session, local_date(now, PLANNING_ZONE)).total
    due = dispatch.pending_count(database, now)
    started = ensure_dispatchers(settings, conn) if due else 0
    conn.set(HEARTBEAT_KEY, now.isoformat(), ex=int(TICK_SECONDS * 4))
    if planned or started:
        log.info("planned %s reminder step(s); %s due; %s dispatcher(s) started", planned, due, started)
    return TickResult(planned, due, started)


def run(
    settings: Settings, database: Database, conn: redis.Redis, *, stop: threading.Event | None = None
) -> None:
    """Tick until SIGTERM/SIGINT (or `stop` is set). A failed tick is logged and retried next time."""
    stop = stop or threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("scheduler stopping (signal %s)", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    log.info("scheduler running: a tick every %.0f s", TICK_SECONDS)
    while not stop.is_set():
        try:
            tick(settings, database, conn)
        except Exception:  # Redis or the database briefly down: try again at the next tick
            log.exception("scheduler tick failed")
        stop.wait(TICK_SECONDS)
