"""The process-wide services of a worker or action server, built on first use from the settings."""

from __future__ import annotations

import functools

from bot import redis_client
from bot.channels import make_sender
from bot.config import Settings, get_settings
from bot.db import get_database
from bot.dialogue import Services
from bot.rasa_client import RasaClient


def build_services(settings: Settings) -> Services:
    """Services for `settings`: the database, Rasa, the outbound channel and RQ for follow-ups."""
    from bot.jobs import RqLater

    return Services(
        settings=settings,
        database=get_database(settings.effective_database_url),
        rasa=RasaClient(settings.rasa_url, settings.rasa_timeout_seconds, token=settings.rasa_auth_token),
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
