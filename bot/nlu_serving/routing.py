"""Which Rasa slot a call goes to: the active slot's URL, read from the serving state at most once per
`ROUTE_TTL` per process (the turn's hot path pays a dictionary look-up, not a database round trip)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.db import Database
from bot.models import NluServing, RasaSlot
from bot.rasa.client import RasaClient

log = logging.getLogger(__name__)

# How stale a process's idea of the active slot may be. After a switch, turns keep going to the old slot
# for at most this long (it still serves the previous model, so they are answered); the swap waits
# `ROUTE_TTL` + the Rasa timeout before it reloads a slot that stopped answering (bot.nlu_serving.swap).
ROUTE_TTL = 1.0

_ACTIVE_SLOT = select(NluServing.active_slot).where(NluServing.id == 1)


def slot_url(settings: Settings, slot: RasaSlot) -> str:
    """The base URL of `slot`'s Rasa server."""
    return settings.rasa_url if slot is RasaSlot.BLUE else settings.rasa_green_url


def active_slot(database: Database) -> RasaSlot | None:
    """The slot answering debtors, read now (blue before any swap); None when the database does not
    answer (logged by type)."""
    try:
        with database.engine.connect() as conn:
            slot = conn.execute(_ACTIVE_SLOT).scalar()
    except SQLAlchemyError as error:
        log.warning("active Rasa slot unknown (%s)", type(error).__name__)
        return None
    return RasaSlot(slot) if slot else RasaSlot.BLUE


def slot_client(settings: Settings, slot: RasaSlot, timeout: float | None = None) -> RasaClient:
    """A client of `slot`'s Rasa server (with the auth token), whichever slot is active."""
    return RasaClient(
        slot_url(settings, slot), timeout or settings.rasa_timeout_seconds, token=settings.rasa_auth_token
    )


class ActiveSlotRoute:
    """Callable giving the base URL of the slot that answers debtors (`RasaClient(route=...)`).

    One SELECT per `ttl` per process; when the database does not answer, the last known slot is kept
    (blue before any read), so a database hiccup never sends turns nowhere."""

    def __init__(self, settings: Settings, database: Database, ttl: float = ROUTE_TTL) -> None:
        self.settings = settings
        self.database = database
        self.ttl = ttl
        self._slot = RasaSlot.BLUE
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The active slot's base URL."""
        now = time.monotonic()
        if now >= self._expires:
            with self._lock:
                if now >= self._expires:  # another thread may have refreshed it meanwhile
                    self._refresh(now)
        return slot_url(self.settings, self._slot)

    def _refresh(self, now: float) -> None:
        slot = active_slot(self.database)
        if slot is None:
            log.warning("keeping Rasa slot %s", self._slot)
        else:
            self._slot = slot
        self._expires = now + self.ttl


def routed_client(settings: Settings, database: Database, timeout: float | None = None) -> RasaClient:
    """The engine's Rasa client: every call goes to the slot answering debtors."""
    return RasaClient(
        settings.rasa_url,
        timeout or settings.rasa_timeout_seconds,
        token=settings.rasa_auth_token,
        route=ActiveSlotRoute(settings, database),
    )
