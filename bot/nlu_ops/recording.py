"""Recording what the model made of each inbound message (issue 17 §1), in the transaction that saves
the answer.

One Core INSERT per turn, `ON CONFLICT DO NOTHING` on the message: a turn is tuned to a few statements
(docs/conversation.md), so no savepoint guards it; instead the values are made safe before they reach the
database (lengths cut to the columns, no NUL characters, plain numbers), which leaves no data error that
could fail the INSERT and, with it, the answer. Anything going wrong while preparing them is logged (its
type only) and the turn goes on without a record.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.models import MessagePrediction, utcnow
from bot.rasa.client import Prediction
from bot.redaction import mask_message

log = logging.getLogger(__name__)

_COLUMNS = ("message_id", "intent", "confidence", "ranking", "entities", "model_id", "model_file",
            "created_at", "updated_at")  # fmt: skip


def _insert(dialect_insert: Any) -> Any:
    table = MessagePrediction.__table__
    return (
        dialect_insert(MessagePrediction)
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in _COLUMNS})
        .on_conflict_do_nothing(index_elements=[MessagePrediction.message_id])
    )


_INSERT = {"postgresql": _insert(postgresql.insert), "sqlite": _insert(sqlite.insert)}


def record(session: Session, message_id: int, prediction: Prediction | None) -> None:
    """Add `prediction` of inbound message `message_id` to the session's transaction (nothing when Rasa
    reported none, or the message already has one)."""
    if prediction is None:
        return
    try:
        values = prediction_values(message_id, prediction)
    except (TypeError, ValueError) as error:
        log.warning("message %s: prediction not recorded (%s)", message_id, type(error).__name__)
        return
    statement = _INSERT[session.get_bind().dialect.name]
    session.connection().execute(statement, {f"v_{k}": v for k, v in values.items()})


def prediction_values(message_id: int, prediction: Prediction) -> dict[str, Any]:
    """The row's values, safe to insert: strings cut to their column and free of NUL characters, finite
    numbers, entity values masked (the body stays the only copy of what the debtor wrote)."""
    now = utcnow()
    return {
        "message_id": message_id,
        "intent": _text(prediction.intent, 80),
        "confidence": _number(prediction.confidence),
        "ranking": [
            {"name": _text(name, 80), "confidence": _number(confidence)}
            for name, confidence in prediction.ranking[:3]
        ],
        "entities": [_entity(e) for e in prediction.entities[:20]],
        "model_id": _text(prediction.model_id, 64),
        "model_file": _text(prediction.model_file, 200),
        "created_at": now,
        "updated_at": now,
    }


def _text(value: object, length: int) -> str | None:
    if value is None:
        return None
    return str(value).replace("\x00", "")[:length] or None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _entity(entity: dict[str, Any]) -> dict[str, Any]:
    value = entity.get("value")
    return {
        "entity": _text(entity.get("entity"), 80),
        "value": mask_message(_text(value, 200) or "") if value is not None else None,
        "start": entity.get("start") if isinstance(entity.get("start"), int) else None,
        "end": entity.get("end") if isinstance(entity.get("end"), int) else None,
        "confidence": _number(entity.get("confidence_entity")),
        "extractor": _text(entity.get("extractor"), 80),
    }
