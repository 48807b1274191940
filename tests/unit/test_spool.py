"""The spool's own guarantees: arrival order across Redis and the file, nothing removed before it is
saved, and an entry that can never be saved set aside instead of blocking the others."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import redis
from sqlalchemy import select

from bot.config import Settings
from bot.conversation import chat
from bot.conversation.spool import FAILED_NAME, FILE_NAME, SPOOL_KEY, Spool
from bot.db import Database
from bot.models import Direction, Message
from bot.phones import Address
from tests.conftest import PHONE
from tests.unit.conftest import RecordingLater


def _form(settings: Settings, body: str) -> dict[str, str]:
    return chat.inbound_form(settings, Address("whatsapp", PHONE), body)


def _bodies(db: Database) -> list[str]:
    with db.session() as s:
        return list(
            s.scalars(select(Message.body).where(Message.direction == Direction.INBOUND).order_by(Message.id))
        )


def test_a_spool_split_between_redis_and_the_file_is_replayed_in_arrival_order(
    tmp_path: Path, settings: Settings, db: Database, redis_conn: redis.Redis
) -> None:
    directory = tmp_path / "spool"
    with_redis, file_only = Spool(redis_conn, directory), Spool(None, directory)
    now = time.time()
    # Redis took the first, failed for the next two (the file took them), then took the last.
    assert with_redis.append(_form(settings, "um"), now) == "redis"
    assert file_only.append(_form(settings, "dois"), now + 1) == "file"
    assert file_only.append(_form(settings, "três"), now + 2) == "file"
    assert with_redis.append(_form(settings, "quatro"), now + 3) == "redis"
    assert stat.S_IMODE((directory / FILE_NAME).stat().st_mode) == 0o600
    later = RecordingLater()
    assert with_redis.replay(db, later) == 4
    assert _bodies(db) == ["um", "dois", "três", "quatro"]
    assert not with_redis.pending() and redis_conn.llen(SPOOL_KEY) == 0
    assert len(later.processes) == 4  # each handed to the workers, like a live message


def test_an_entry_that_can_never_be_saved_is_set_aside_and_the_rest_is_replayed(
    tmp_path: Path, settings: Settings, db: Database
) -> None:
    directory = tmp_path / "spool"
    spool = Spool(None, directory)
    spool.append(_form(settings, "antes"), time.time())
    with (directory / FILE_NAME).open("a") as spool_file:
        spool_file.write('{"truncated by a crash\n')
    spool.append(_form(settings, "depois"), time.time())
    assert spool.replay(db, RecordingLater()) == 3
    assert _bodies(db) == ["antes", "depois"]
    assert (directory / FAILED_NAME).read_text() == '{"truncated by a crash\n'
    assert not spool.pending()


def test_the_spool_is_replayed_once_even_if_a_replayer_died_after_saving(
    tmp_path: Path, settings: Settings, db: Database, redis_conn: redis.Redis
) -> None:
    spool = Spool(redis_conn, tmp_path / "spool")
    form = _form(settings, "só uma vez")
    spool.append(form, time.time())
    # A replayer saved the entry and died before removing it: the entry is still there.
    raw = redis_conn.lindex(SPOOL_KEY, 0)
    assert spool.replay(db, RecordingLater()) == 1
    redis_conn.rpush(SPOOL_KEY, raw)  # type: ignore[arg-type]
    later = RecordingLater()
    assert spool.replay(db, later) == 1
    assert _bodies(db) == ["só uma vez"]
    assert later.processes == []  # a duplicate is not handed to the workers again
