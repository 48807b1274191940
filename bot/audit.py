"""Audit-log rows: who did what to which record. Built here only, so every row has the same shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditLog


def record(
    session: Session,
    actor: str,
    action: str,
    entity_type: str | None = None,
    entity_id: object = None,
    /,
    **details: Any,
) -> AuditLog:
    """Add an audit row to `session` (the caller's transaction) and return it.

    The parameters are positional-only, so a detail may share a name with one of them. `entity_id` is
    stored as text (ids are ints in most tables). `details` never hold secrets nor personal data: callers
    pass ids, counts and reasons.
    """
    row = AuditLog(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        details=details,
    )
    session.add(row)
    return row
