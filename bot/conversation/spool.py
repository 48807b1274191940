"""The inbound spool: messages the webhook received while the database was down, replayed in order.

Twilio does not retry a message webhook that fails, so a message the database cannot take is kept
here instead of lost. The webhook (signature already checked) appends the form as received, with the
receive time, to a Redis list (`regua:spool:inbound`, RPUSH) or, when Redis fails too, to an
append-only file under var/ (`var/spool/inbound.jsonl`: one JSON line per message, written under an
exclusive lock and fsync'd, mode 0600 since it holds message bodies), and answers Twilio 200.

Replay (`Spool.replay`) saves the entries through the same path as a live message (`inbound.store`,
then the conversation is handed to the workers), oldest first, merging the two places by receive
time, and removes an entry only after it is saved: a replayer that dies leaves it in place, and saving
it again is harmless (the unique MessageSid makes a second save a no-op). One replayer at a time: a
file lock per var/ directory (non-blocking; whoever holds it drains) and a Redis lock for the list.
The webhook replays at the start of each request that finds the spool non-empty (within its time
budget), and the worker's minute sweep replays too.

Order: while the spool is non-empty, new messages are spooled behind it rather than saved, so a live
message never overtakes a spooled one of the same conversation. See docs/conversation.md for the one
exception (Redis becomes unreachable while it holds spooled messages).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from redis.exceptions import LockError
from sqlalchemy.exc import SQLAlchemyError

from bot.breaker import CircuitBreaker
from bot.conversation import inbound
from bot.db import Database
from bot.runtime import Later

log = logging.getLogger(__name__)

SPOOL_KEY = "regua:spool:inbound"
LOCK_KEY = "regua:spool:replaying"
# A replayer holds the Redis lock at most this long (it expires by itself if the replayer dies).
LOCK_SECONDS = 60
# Entries read from Redis per pass.
BATCH = 500
FILE_NAME = "inbound.jsonl"
FAILED_NAME = "failed.jsonl"  # entries that could not be saved for a reason other than the database


class SpoolUnavailable(RuntimeError):
    """Neither Redis nor the local file could take the message."""


@dataclass(frozen=True)
class Entry:
    """One spooled message: the form as Twilio posted it, when it arrived, and whether it was over the
    rate limit (`ignored`); `raw` is the stored text (the Redis list value, or the file line)."""

    form: Mapping[str, str]
    received_at: float
    ignored: str | None
    raw: str
    source: str  # "redis" or "file"

    @staticmethod
    def encode(form: Mapping[str, str], received_at: float, ignored: str | None) -> str:
        """The stored text of an entry."""
        return json.dumps({"received_at": received_at, "ignored": ignored, "form": dict(form)})

    @classmethod
    def decode(cls, raw: str, source: str) -> Entry:
        """An entry from its stored text (ValueError/KeyError/TypeError if it is not one)."""
        data = json.loads(raw)
        return cls(dict(data["form"]), float(data["received_at"]), data.get("ignored"), raw, source)


class Spool:
    """The Redis list and this machine's file; `redis` calls go through `breaker` when one is given."""

    def __init__(self, conn: redis.Redis | None, directory: Path, breaker: CircuitBreaker | None = None):
        self.conn, self.directory, self.breaker = conn, directory, breaker
        self.path = directory / FILE_NAME

    # --- Redis, through the breaker ---------------------------------------------------------------

    def _redis(self, call: Callable[[redis.Redis], object]) -> tuple[bool, object]:
        """(True, result) of `call(conn)`, or (False, None) if Redis is skipped or fails."""
        if self.conn is None or (self.breaker is not None and not self.breaker.allow()):
            return False, None
        try:
            result = call(self.conn)
        except (redis.RedisError, OSError) as error:
            log.warning("spool: Redis unavailable (%s)", type(error).__name__)
            if self.breaker is not None:
                self.breaker.failed()
            return False, None
        if self.breaker is not None:
            self.breaker.succeeded()
        return True, result

    # --- the local file ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked_file(self, path: Path, flags: int) -> Iterator[int]:
        """`path` opened with `flags` and exclusively locked. A replayer replaces the spool file when it
        removes entries: a descriptor locked on the replaced file is opened again."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            fd = os.open(path, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.fstat(fd).st_ino == os.stat(path).st_ino
                except FileNotFoundError:
                    current = False  # removed while we waited for the lock
                if current:
                    yield fd
                    return
            finally:
                os.close(fd)  # also releases the lock

    def _append_file(self, path: Path, text: str) -> None:
        with self._locked_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
            size = os.fstat(fd).st_size
            prefix = ""
            if size and os.pread(fd, 1, size - 1) != b"\n":
                prefix = "\n"  # a line cut short by a crash stays a line of its own (and is set aside)
            os.write(fd, (prefix + text + "\n").encode())
            os.fsync(fd)
        self._sync_directory()

    def _sync_directory(self) -> None:
        """fsync the directory, so a newly created or replaced file survives a crash."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _file_entries(self) -> list[Entry]:
        try:
            with self._locked_file(self.path, os.O_RDONLY) as fd:
                data = _read_all(fd)
        except FileNotFoundError:
            return []
        lines = data.decode(errors="replace").split("\n")[:-1]  # only complete lines
        return [_decode_or_raw(line, "file") for line in lines]

    def _remove_file_lines(self, count: int) -> None:
        """Remove the first `count` lines (those replayed); lines appended meanwhile are kept."""
        with self._locked_file(self.path, os.O_RDWR) as fd:
            rest = _read_all(fd).split(b"\n", count)[-1] if count else _read_all(fd)
            if not rest:
                self.path.unlink()
            else:
                temporary = self.path.with_suffix(".tmp")
                out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.write(out, rest)
                    os.fsync(out)
                finally:
                    os.close(out)
                os.replace(temporary, self.path)
        self._sync_directory()

    def _file_pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    # --- what the webhook and the sweep call ------------------------------------------------------

    def append(self, form: Mapping[str, str], received_at: float, ignored: str | None = None) -> str:
        """Spool a message; returns where it went ("redis" or "file"). Raises `SpoolUnavailable` if
        neither could take it."""
        text = Entry.encode(form, received_at, ignored)
        ok, _ = self._redis(lambda conn: conn.rpush(SPOOL_KEY, text))
        if ok:
            return "redis"
        try:
            self._append_file(self.path, text)
        except OSError as error:
            raise SpoolUnavailable(f"spool file unavailable: {type(error).__name__}") from error
        return "file"

    def pending(self) -> bool:
        """True when spooled messages wait (in the file, or in Redis if it answers)."""
        if self._file_pending():
            return True
        ok, length = self._redis(lambda conn: conn.llen(SPOOL_KEY))
        return bool(ok and length)

    def replay(self, database: Database, later: Later, deadline: float | None = None) -> int:
        """Save spooled messages, oldest first, until the spool is empty, the database fails or
        `deadline` (a `time.monotonic()` value) passes; returns how many were saved. Does nothing if
        another replayer is at work."""
        with self._replay_lock() as mine:
            if not mine:
                return 0
            lock = self._redis_lock()
            if lock is False:  # another machine is replaying the Redis list; merging needs both
                return 0
            try:
                return self._replay(database, later, deadline, with_redis=lock is not None)
            finally:
                if lock is not None:
                    with contextlib.suppress(LockError, redis.RedisError, OSError):
                        lock.release()  # type: ignore[union-attr]

    @contextlib.contextmanager
    def _replay_lock(self) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.directory / "replay.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _redis_lock(self) -> object:
        """The Redis lock if taken, False if another replayer holds it, None if Redis is unavailable."""

        def take(conn: redis.Redis) -> object:
            lock = conn.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
            return lock if lock.acquire() else False

        ok, lock = self._redis(take)
        return lock if ok else None

    def _replay(self, database: Database, later: Later, deadline: float | None, *, with_redis: bool) -> int:
        saved = file_done = 0
        try:
            while deadline is None or time.monotonic() < deadline:
                from_file = self._file_entries()[file_done:]
                from_redis: list[Entry] = []
                if with_redis:
                    ok, raws = self._redis(lambda conn: conn.lrange(SPOOL_KEY, 0, BATCH - 1))
                    if not ok:
                        with_redis = False  # Redis went away: go on with the file alone
                    from_redis = [_decode_or_raw(r.decode(errors="replace"), "redis") for r in raws or []]
                if not from_file and not from_redis:
                    break
                # Each place is already in arrival order; merging keeps it, so the file's entries
                # replayed are always its first lines.
                for entry in heapq.merge(from_file, from_redis, key=lambda e: e.received_at):
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    self._save(database, later, entry)
                    saved += 1
                    if entry.source == "file":
                        file_done += 1
                    else:
                        ok, _ = self._redis(lambda conn, raw=entry.raw: conn.lrem(SPOOL_KEY, 1, raw))
                        if not ok:  # saved but still listed: saving it again is a no-op
                            with_redis = False
                            break
        except SQLAlchemyError as error:
            log.warning("spool: replay stopped, the database is still unavailable (%s)", type(error).__name__)
        finally:
            if file_done:
                self._remove_file_lines(file_done)
        if saved:
            log.info("spool: %d message(s) replayed", saved)
        return saved

    def _save(self, database: Database, later: Later, entry: Entry) -> None:
        """Save one entry as the webhook would have, and hand its conversation to the workers."""
        try:
            message = inbound.parse_form(entry.form)
            received = datetime.fromtimestamp(entry.received_at, UTC)
            with database.session() as session:
                stored = inbound.store(session, message, ignored=entry.ignored, received_at=received)
        except SQLAlchemyError:
            raise
        except Exception:
            # Not the database: this entry would fail for ever and hold up every later one. It is set
            # aside in the failed file (never in the log: it holds the message) for a person to look at.
            log.exception("spool: an entry could not be saved; set aside in %s", FAILED_NAME)
            self._append_file(self.directory / FAILED_NAME, entry.raw)
            return
        if not stored.duplicate and entry.ignored is None:
            later.process(stored.conversation_id)


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _decode_or_raw(raw: str, source: str) -> Entry:
    """The entry, or for an unreadable one an entry that `_save` sets aside (it keeps its place)."""
    try:
        return Entry.decode(raw, source)
    except (ValueError, KeyError, TypeError):
        return Entry({}, 0.0, None, raw, source)
