"""The composition root: the services a process works with (`Services`), built once from the settings, and
`RqLater`, the job adapter that hands follow-up work to RQ.

The conversation engine (`bot.conversation`) receives a `Services` and never builds one; the RQ jobs it
runs are enqueued by dotted path (`PROCESS_JOB`, `DELIVER_JOB`), so this module never imports the engine.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis
from rq import Queue

from bot import redis_client
from bot.breaker import CircuitBreaker
from bot.channels import Sender, make_sender
from bot.config import Settings, get_settings
from bot.conversation.sweep_schedule import DEFAULT_QUEUE, RESULT_TTL
from bot.db import Database, get_database
from bot.nlu_serving import routing
from bot.rasa.client import RasaClient

log = logging.getLogger(__name__)

JOB_TIMEOUT = 120
PROCESS_JOB = "bot.conversation.jobs.process_conversation"
DELIVER_JOB = "bot.conversation.jobs.deliver_conversation"


def queue(conn: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    """The RQ queue `name` on `conn`."""
    return Queue(name, connection=conn)


class RqLater:
    """`Later` on RQ: follow-up work as jobs, now or at a given time (the worker's scheduler).

    With a `breaker` (the web process's, bot.breaker) no enqueue is tried while Redis is being skipped."""

    def __init__(self, conn: redis.Redis, breaker: CircuitBreaker | None = None) -> None:
        self.queue = queue(conn)
        self.breaker = breaker

    def _enqueue(self, job: str, conversation_id: int, when: datetime | None) -> None:
        options = {"job_timeout": JOB_TIMEOUT, "result_ttl": RESULT_TTL, "failure_ttl": 86400}
        if self.breaker is not None and not self.breaker.allow():
            # The work is in the database; the sweep enqueues it once Redis answers again.
            log.warning("Redis skipped (circuit open): %s left for the sweep", job)
            return
        try:
            if when is None:
                self.queue.enqueue(job, conversation_id, **options)
            else:
                self.queue.enqueue_at(when, job, conversation_id, **options)
        except (redis.RedisError, OSError) as error:
            # The work is in the database; the sweep enqueues it once Redis is back.
            log.warning("could not enqueue %s (%s); the sweep will pick it up", job, error)
            if self.breaker is not None:
                self.breaker.failed()
            return
        if self.breaker is not None:
            self.breaker.succeeded()

    def process(self, conversation_id: int, when: datetime | None = None) -> None:
        """Enqueue `bot.conversation.jobs.process_conversation`."""
        self._enqueue(PROCESS_JOB, conversation_id, when)

    def deliver(self, conversation_id: int, when: datetime | None = None) -> None:
        """Enqueue `bot.conversation.jobs.deliver_conversation`."""
        self._enqueue(DELIVER_JOB, conversation_id, when)


class Later(Protocol):
    """Schedules follow-up work (RQ jobs in production)."""

    def process(self, conversation_id: int, when: datetime | None = None) -> None:
        """Run `process_conversation` for the conversation (at `when`, or now)."""
        ...

    def deliver(self, conversation_id: int, when: datetime | None = None) -> None:
        """Run `deliver_conversation` for the conversation (at `when`, or now)."""
        ...


@dataclass
class Services:
    """What processing needs: settings, database, Rasa, the outbound channel and the scheduler."""

    settings: Settings
    database: Database
    rasa: RasaClient
    sender: Sender
    later: Later


def build_services(settings: Settings) -> Services:
    """Services for `settings`: the database, Rasa (the slot answering debtors, bot.nlu_serving), the
    outbound channel and RQ for follow-ups."""
    database = get_database(settings.effective_database_url)
    return Services(
        settings=settings,
        database=database,
        rasa=routing.routed_client(settings, database),
        sender=make_sender(settings),
        later=RqLater(redis_client.connect(settings)),
    )


@functools.cache
def services() -> Services:
    """This process's services (RQ jobs call this)."""
    return build_services(get_settings())


def redis_url() -> str:
    """This process's Redis URL (the configured one, or the embedded server's socket)."""
    return redis_client.redis_url(get_settings())
