"""Background jobs run by the RQ worker, and the queues they go on."""

from __future__ import annotations

import redis
from rq import Queue

DEFAULT_QUEUE = "default"


def queue(conn: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    """The RQ queue `name` on `conn`."""
    return Queue(name, connection=conn)


def ping() -> str:
    """A no-op job: `regua health --deep` enqueues it to prove a worker really picks up work."""
    return "pong"
