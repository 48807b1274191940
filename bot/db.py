"""Database engine and sessions. Nothing is created at import time: a `Database` is built from settings."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from bot.redaction import scrub

T = TypeVar("T")


def attach_row(session: Session, entity: type[T], row: Mapping[str, Any]) -> T:
    """The `entity` instance for a row a Core statement of this transaction just wrote or read (its
    columns by attribute name, e.g. from RETURNING), in `session` as if a query had loaded it; a column
    the row lacks is loaded from the database when first read.

    On a hot path this replaces an ORM-enabled statement returning the entity: executed through the
    ORM, a statement costs about three times the CPU of the same statement on the session's connection
    (per execution the ORM copies the statement, and so computes its cache key again)."""
    mapper = inspect(entity)
    key = mapper.identity_key_from_primary_key([row[c.key] for c in mapper.primary_key])
    existing = session.identity_map.get(key)
    values = {attr.key: row[attr.key] for attr in mapper.column_attrs if attr.key in row}
    if existing is not None:  # already loaded in this session: refresh it, as populate_existing would
        for name, value in values.items():
            set_committed_value(existing, name, value)
        return existing  # type: ignore[return-value]
    instance = entity(**values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url`, tuned for the backend (SQLite file or PostgreSQL).

    Bound parameters (phone numbers, message bodies, CPFs) never appear in error messages
    (`hide_parameters`), and the values PostgreSQL echoes in its own messages are masked (`_scrub_error`),
    so database errors can be logged and kept in RQ's failed-job registry."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several processes (web, worker, CLI) share the file; wait for locks instead of failing at once.
        engine = create_engine(url, echo=echo, hide_parameters=True, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(
            url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=10
        )
    event.listen(engine, "handle_error", _scrub_error)
    return engine


def _scrub_error(context: ExceptionContext) -> None:
    """Mask personal data in a failed statement's error texts, the driver's and SQLAlchemy's.

    PostgreSQL writes the offending values into the message (`Key (cpf)=(...) already exists`, `Failing
    row contains (...)`). Only the texts change: the exception classes, and the driver's structured
    `diag` (constraint name, detail) that code may inspect, are left as they are."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is not None and error.args and isinstance(error.args[0], str):
            error.args = (scrub(error.args[0]), *error.args[1:])


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked; WAL lets readers work while a writer commits.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """An engine plus a session factory for one database URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # Set inside `one_connection`: the connection this thread's sessions use (a ContextVar is
        # per thread, and per asyncio task, so threads never share a connection).
        self._pinned: ContextVar[Connection | None] = ContextVar(f"regua_pinned_{id(self)}", default=None)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    def new_session(self) -> Session:
        """A new session, on the pinned connection inside `one_connection`, else on one from the pool."""
        pinned = self._pinned.get()
        return self.sessionmaker(bind=pinned) if pinned is not None else self.sessionmaker()

    @contextmanager
    def one_connection(self) -> Iterator[None]:
        """Run the block's sessions, one after the other, on a single pooled connection.

        A conversation turn runs several short transactions; without this each would check a connection
        out of the pool (with its liveness ping, a round trip) and back in. Each session still commits
        its own transaction; sessions must not be nested inside the block (they would share one).
        Re-entrant: an inner block keeps the outer one's connection."""
        if self._pinned.get() is not None:
            yield
            return
        with self.engine.connect() as connection:
            token = self._pinned.set(connection)
            try:
                yield
            finally:
                self._pinned.reset(token)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self.new_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@functools.cache
def get_database(url: str) -> Database:
    """The process-wide `Database` for `url`, created on first use (never at import time)."""
    return Database(url)
