"""Retention (LGPD art. 15 and 16): a daily job anonymises what is no longer needed.

* message bodies, media links and template variables older than RETENTION_BODY_DAYS (the rows stay:
  dates, channels, statuses and delivery evidence);
* messages from numbers that are no debtor's older than RETENTION_UNKNOWN_DAYS, and those numbers
  themselves once their conversation has been quiet that long (their opt-outs keep a keyed hash).

It works in batches of `BATCH` rows, each its own short transaction, so it never holds a long lock; a
run stops when its time budget is spent and the next hourly sweep carries on. A finished run leaves an
audit row (`retention.run`), which is also how the sweep knows the job ran today.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from bot import audit
from bot.config import Settings
from bot.db import Database
from bot.models import AuditLog, Conversation, Debtor, Message, OptOutEvent, as_utc, utcnow
from bot.privacy.erasure import hash_opt_out_addresses, redact_messages
from bot.privacy.subjects import random_address_token

log = logging.getLogger(__name__)

BATCH = 500
RUN_EVERY = timedelta(hours=23)  # "once a day", tolerant of the sweep's exact minute
BUDGET_SECONDS = 60.0
ACTION = "retention.run"


@dataclass
class RetentionResult:
    """What one run anonymised, and whether it got through everything due."""

    bodies: int = 0
    unknown_messages: int = 0
    unknown_numbers: int = 0
    finished: bool = True


def _unknown_number() -> ColumnElement[bool]:
    """The conversation's number is no debtor's: linked to none, and no debtor has it (a debtor's number may
    have an unlinked conversation, e.g. a reminder reused one opened before the number was imported)."""
    known = select(Debtor.id).where(
        or_(Debtor.phone == Conversation.address, Debtor.phone_secondary == Conversation.address)
    )
    return and_(Conversation.debtor_id.is_(None), ~known.exists())


def _redact_batch(database: Database, where: list[object], now: datetime) -> int:
    with database.session() as session:
        ids = session.scalars(
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.redacted_at.is_(None), *where)  # type: ignore[arg-type]
            .order_by(Message.created_at)
            .limit(BATCH)
        ).all()
        return redact_messages(session, Message.id.in_(ids), now) if ids else 0


def _anonymise_numbers_batch(database: Database, cutoff: datetime, key: bytes, now: datetime) -> int:
    with database.session() as session:
        conversations = session.scalars(
            select(Conversation)
            .where(
                _unknown_number(),
                Conversation.redacted_at.is_(None),
                func.coalesce(Conversation.last_inbound_at, Conversation.created_at) < cutoff,
            )
            .order_by(Conversation.id)
            .limit(BATCH)
        ).all()
        for conversation in conversations:
            events = session.scalars(
                select(OptOutEvent).where(
                    OptOutEvent.debtor_id.is_(None),
                    OptOutEvent.channel == conversation.channel,
                    OptOutEvent.address == conversation.address,
                )
            ).all()
            hash_opt_out_addresses(session, list(events), key)
            conversation.address = random_address_token()
            conversation.redacted_at = now
        return len(conversations)


def run(database: Database, settings: Settings, *, now: datetime | None = None,
        budget_seconds: float = BUDGET_SECONDS) -> RetentionResult:  # fmt: skip
    """Anonymise everything past its retention period, batch by batch, within `budget_seconds`."""
    now = now or utcnow()
    deadline = time.monotonic() + budget_seconds
    result = RetentionResult()
    body_cutoff = now - timedelta(days=settings.retention_body_days)
    unknown_cutoff = now - timedelta(days=settings.retention_unknown_days)
    steps = (
        ("bodies", lambda: _redact_batch(database, [Message.created_at < body_cutoff], now)),
        (
            "unknown_messages",
            lambda: _redact_batch(database, [_unknown_number(), Message.created_at < unknown_cutoff], now),
        ),
        (
            "unknown_numbers",
            lambda: _anonymise_numbers_batch(database, unknown_cutoff, settings.erasure_key, now),
        ),
    )
    for name, step in steps:
        while True:
            if time.monotonic() > deadline:
                result.finished = False
                return result
            done = step()
            setattr(result, name, getattr(result, name) + done)
            if done < BATCH:
                break
    with database.session() as session:
        details = {k: v for k, v in asdict(result).items() if k != "finished"}
        row = audit.record(session, "system", ACTION, **details)
        row.created_at = row.updated_at = now  # the run's own clock, which `last_run` reads back
    return result


def last_run(database: Database) -> datetime | None:
    """When the last finished run happened (its audit row), or None."""
    with database.session() as session:
        return session.scalar(select(func.max(AuditLog.created_at)).where(AuditLog.action == ACTION))


def run_if_due(database: Database, settings: Settings, now: datetime | None = None) -> RetentionResult | None:
    """`run` when no run finished in the last day; None when it was not due."""
    now = now or utcnow()
    last = last_run(database)
    if last is not None and as_utc(last) > now - RUN_EVERY:  # type: ignore[operator]
        return None
    result = run(database, settings, now=now)
    if result.bodies or result.unknown_messages or result.unknown_numbers:
        log.info(
            "retention: %s bodies, %s unknown-number messages, %s unknown numbers anonymised%s",
            result.bodies, result.unknown_messages, result.unknown_numbers,
            "" if result.finished else " (more next time)",
        )  # fmt: skip
    return result
