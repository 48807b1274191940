"""Redis connections: the configured `REDIS_URL`, or the embedded private server."""

from __future__ import annotations

import redis

from bot import embedded_redis
from bot.config import Settings


def redis_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The Redis URL to use; starts the embedded server when none is configured and `start_embedded`."""
    if settings.redis_url:
        return settings.redis_url
    if start_embedded:
        return embedded_redis.ensure_running(settings.var_dir)
    return settings.effective_redis_url


def connect(settings: Settings, **kwargs: object) -> redis.Redis:
    """A Redis client for the settings. Short timeouts: a Redis outage must degrade, not hang, a request."""
    kwargs.setdefault("socket_timeout", 5)
    kwargs.setdefault("socket_connect_timeout", 3)
    kwargs.setdefault("health_check_interval", 30)
    return redis.Redis.from_url(redis_url(settings), **kwargs)  # type: ignore[arg-type]
