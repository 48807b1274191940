"""Portable SQL for time windows and counts: the same question on PostgreSQL and SQLite.

Adding an interval to a timestamp is spelled differently by each backend (and SQLite stores timestamps as
text), so a window is one SQL construct compiled per backend: on PostgreSQL an interval added to the
start (so an index on the event's time serves both bounds), on SQLite the difference of Julian days.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, case, func, literal, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class _after(FunctionElement[bool]):
    """(event, start, seconds): the event is at `start` or up to `seconds` after it."""

    type = Boolean()
    inherit_cache = True
    name = "after"


class _before(FunctionElement[bool]):
    """(event, start, seconds): the event is before `start` by less than `seconds`."""

    type = Boolean()
    inherit_cache = True
    name = "before"


def _parts(element: FunctionElement[bool], compiler: SQLCompiler, **kw: Any) -> tuple[str, str, str]:
    event, start, seconds = (compiler.process(part, **kw) for part in element.clauses)
    return event, start, seconds


@compiles(_after, "postgresql")
def _after_postgresql(element: _after, compiler: SQLCompiler, **kw: Any) -> str:
    event, start, seconds = _parts(element, compiler, **kw)
    return f"({event} >= {start} AND {event} <= {start} + make_interval(secs => {seconds}))"


@compiles(_before, "postgresql")
def _before_postgresql(element: _before, compiler: SQLCompiler, **kw: Any) -> str:
    event, start, seconds = _parts(element, compiler, **kw)
    return f"({event} < {start} AND {event} > {start} - make_interval(secs => {seconds}))"


@compiles(_after, "sqlite")
def _after_sqlite(element: _after, compiler: SQLCompiler, **kw: Any) -> str:
    event, start, seconds = _parts(element, compiler, **kw)
    return f"({event} >= {start} AND (julianday({event}) - julianday({start})) * 86400.0 <= {seconds})"


@compiles(_before, "sqlite")
def _before_sqlite(element: _before, compiler: SQLCompiler, **kw: Any) -> str:
    event, start, seconds = _parts(element, compiler, **kw)
    return f"({event} < {start} AND (julianday({start}) - julianday({event})) * 86400.0 < {seconds})"


def within(event: Any, start: Any, seconds: int) -> ColumnElement[bool]:
    """True when the timestamp `event` is at `start` or up to `seconds` after it."""
    return _after(event, start, literal(seconds))


def before(event: Any, start: Any, seconds: int) -> ColumnElement[bool]:
    """True when the timestamp `event` is before `start` by less than `seconds`."""
    return _before(event, start, literal(seconds))


def count_where(condition: Any) -> ColumnElement[int]:
    """An aggregate: how many rows meet `condition` (0 for no rows, never NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def for_analytics(session: Session) -> None:
    """Tune the session's transaction for the metrics' queries. On PostgreSQL, JIT compilation off: their
    correlated subqueries look expensive to the planner, which then spends longer compiling them than
    running them (measured: about half the time of a month's metrics)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
