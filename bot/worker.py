"""The RQ worker process.

It runs `SimpleWorker` (jobs in the worker process itself, no fork per job): a conversation turn is a few
milliseconds of our own work around an HTTP call to Rasa, and forking for each would cost more than the
turn and lose the pooled database connections. SIGTERM is a warm shutdown: the current job finishes,
then the worker exits. The worker also runs RQ's scheduler (retries at a given time, the sweep).
A failed job's traceback is scrubbed of personal data (`bot.redaction`) before RQ stores it: the
failed-job registry keeps it for days, readable by anyone with access to Redis.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker

from bot import redis_client
from bot.config import Settings
from bot.conversation import sweep
from bot.conversation.sweep_schedule import DEFAULT_QUEUE, RESULT_TTL
from bot.observability.instruments import enable_for
from bot.redaction import scrub
from bot.runtime import queue

log = logging.getLogger(__name__)


class ScrubbingWorker(SimpleWorker):
    """RQ's in-process worker, storing failures with personal data masked."""

    def handle_job_failure(  # type: ignore[no-untyped-def]
        self, job, queue, started_job_registry=None, exc_string="", execution=None
    ):
        """Record the failure as RQ does, with `exc_string` scrubbed (it goes to the registry and the
        job's result)."""
        return super().handle_job_failure(
            job,
            queue,
            started_job_registry=started_job_registry,
            exc_string=scrub(exc_string),
            execution=execution,
        )


def run(settings: Settings, *, queues: list[str] | None = None, burst: bool = False) -> bool:
    """Work on `queues` until stopped (or, with `burst`, until they are empty). True if any job ran."""
    enable_for(settings)  # its sends, Rasa calls and dispatches are counted for /metrics
    conn = redis_client.connect(settings)
    worker = ScrubbingWorker(queues or [DEFAULT_QUEUE], connection=conn)
    if not burst:
        # Pick up whatever was left pending while no worker ran, then keep the minute sweep going.
        queue(conn).enqueue(sweep.sweep, result_ttl=RESULT_TTL)
    log.info("worker %s listening on %s", worker.name, ", ".join(q.name for q in worker.queues))
    return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
