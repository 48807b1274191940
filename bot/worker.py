"""The RQ worker process. RQ handles SIGTERM with a warm shutdown: the current job finishes, then it exits."""

from __future__ import annotations

import logging

from rq import Worker

from bot import jobs, redis_client
from bot.config import Settings

log = logging.getLogger(__name__)


def run(settings: Settings, *, queues: list[str] | None = None, burst: bool = False) -> bool:
    """Work on `queues` until stopped (or, with `burst`, until they are empty). True if any job ran."""
    conn = redis_client.connect(settings)
    worker = Worker(queues or [jobs.DEFAULT_QUEUE], connection=conn)
    log.info("worker %s listening on %s", worker.name, ", ".join(q.name for q in worker.queues))
    return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
