"""Persistence helpers shared by the importers: chunked look-ups, bulk writes, datetime comparison."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam, insert, text, update
from sqlalchemy.orm import Session

from bot import audit as audit_log
from bot.db import Database
from bot.models import Base

T = TypeVar("T")

# Rows per INSERT/UPDATE batch, and values per `IN (...)` look-up (SQLite builds may cap bound parameters
# at 999, PostgreSQL has no practical limit).
WRITE_CHUNK = 2000
# Refresh PostgreSQL's statistics after an import that wrote at least this many rows (see `analyze`).
ANALYZE_AFTER_ROWS = 5000


def lookup_chunk(db: Database) -> int:
    return 900 if db.is_sqlite else 10_000


def one_of(db: Database, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)`, as `column = ANY(:array)` on PostgreSQL.

    One array parameter instead of thousands keeps the statement text constant and cheap to send, and
    PostgreSQL hashes a constant array instead of scanning a list of parameters for every row.
    """
    if db.is_sqlite:
        return column.in_(list(values))
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


def analyze(db: Database, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk write (no-op on SQLite).

    Right after tens of thousands of rows arrive, autovacuum has not analyzed the table yet; the planner
    may then think a creditor has few invoices and choose a plan that is fine for 10 rows and takes
    minutes for 100,000. Analyzing samples the table (about a second at most) and avoids that.
    """
    if db.is_sqlite:
        return
    with db.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"ANALYZE {table}"))


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(
    session: Session, model: type[Base], rows: list[dict[str, Any]], advance: Callable[[int], None]
) -> None:
    """INSERT `rows` in batches (one executemany per batch, "insertmanyvalues" on both backends)."""
    for batch in chunks(rows, WRITE_CHUNK):
        session.execute(insert(model), list(batch))
        advance(len(batch))


def bulk_update(
    session: Session, model: type[Base], rows: list[dict[str, Any]], advance: Callable[[int], None]
) -> None:
    """ORM bulk UPDATE by primary key. Rows are grouped by the set of columns they change, so each
    executemany sends one statement shape."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[frozenset(row)].append(row)
    for group in groups.values():
        for batch in chunks(group, WRITE_CHUNK):
            session.execute(update(model), list(batch))
            advance(len(batch))


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
    entity_type: str | None = None,
    entity_id: str | None = None,
) -> None:
    audit_log.record(session, actor, action, entity_type, entity_id, **details)


def unique_in_order(values: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(values))
