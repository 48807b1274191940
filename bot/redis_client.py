"""Redis connections: the configured `REDIS_URL`, or the embedded private server."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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


def inline_options(settings: Settings) -> dict[str, object]:
    """Client options for Redis calls on the webhook's inline path: a short connect and read timeout
    (`REDIS_INLINE_TIMEOUT_SECONDS`) and no retries (redis-py retries 3 times by default), so a Redis that
    accepts connections and never answers costs a request at most one short timeout per call, and the
    web process's circuit breaker (bot.breaker) soon none."""
    timeout = settings.redis_inline_timeout_seconds
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


def connect_inline(settings: Settings) -> redis.Redis:
    """A client with `inline_options`. It never starts the embedded server (that could take seconds):
    with none running, its calls fail fast and the breaker takes over."""
    url = redis_url(settings, start_embedded=False)
    return redis.Redis.from_url(url, **inline_options(settings))  # type: ignore[arg-type]
