"""The RQ worker process.

It runs `SimpleWorker` (jobs in the worker process itself, no fork per job): a conversation turn is a few
milliseconds of our own work around an HTTP call to Rasa, and forking for each would cost more than the
turn and lose the pooled database connections. SIGTERM is a warm shutdown: the current job finishes,
then the worker exits. The worker also runs RQ's scheduler (retries at a given time, the sweep).
"""

from __future__ import annotations

import logging

from rq import SimpleWorker

from bot import jobs, redis_client
from bot.config import Settings

log = logging.getLogger(__name__)


def run(settings: Settings, *, queues: list[str] | None = None, burst: bool = False) -> bool:
    """Work on `queues` until stopped (or, with `burst`, until they are empty). True if any job ran."""
    conn = redis_client.connect(settings)
    worker = SimpleWorker(queues or [jobs.DEFAULT_QUEUE], connection=conn)
    if not burst:
        # Pick up whatever was left pending while no worker ran, then keep the minute sweep going.
        jobs.queue(conn).enqueue(jobs.sweep, result_ttl=jobs.RESULT_TTL)
    log.info("worker %s listening on %s", worker.name, ", ".join(q.name for q in worker.queues))
    return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
