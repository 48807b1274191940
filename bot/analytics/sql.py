"""Portable SQL for time windows: the same expression on PostgreSQL and SQLite.

Adding an interval to a timestamp is spelled differently by each backend (and SQLite stores timestamps as
text), so windows compare seconds since the epoch: `EXTRACT(EPOCH FROM t)` on PostgreSQL, the Julian day
arithmetic on SQLite (fractions of a second kept, unlike `strftime('%s')`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970-01-01 UTC of a timestamp column."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


def within(event: Any, start: Any, seconds: int) -> ColumnElement[bool]:
    """True when the timestamp `event` is at `start` or up to `seconds` after it."""
    return and_(event >= start, epoch_seconds(event) <= epoch_seconds(start) + seconds)


def before(event: Any, start: Any, seconds: int) -> ColumnElement[bool]:
    """True when the timestamp `event` is before `start` by less than `seconds`."""
    return and_(event < start, epoch_seconds(event) > epoch_seconds(start) - seconds)


def count_where(condition: Any) -> ColumnElement[int]:
    """An aggregate: how many rows meet `condition` (0 for no rows, never NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
