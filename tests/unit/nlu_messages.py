"""Inbound messages with recorded predictions, and a copy of nlu_data/, for the NLU inbox tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    Direction,
    Message,
    MessagePrediction,
    MessageStatus,
    Processing,
    utcnow,
)
from bot.rasa import training


def conversation(db: Database, address: str = "+5511900000001") -> int:
    """A conversation with an unknown number; returns its id."""
    with db.session() as s:
        row = Conversation(channel=Channel.WHATSAPP, address=address)
        s.add(row)
        s.flush()
        return row.id


def predicted(
    db: Database,
    conversation_id: int,
    body: str,
    intent: str | None,
    confidence: float | None,
    *,
    at: datetime | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> tuple[int, int]:
    """An inbound message the model read as `intent` with `confidence` (and `entities`, masked values);
    returns (message id, prediction id). `intent=None` leaves the message without a prediction
    (prediction id 0)."""
    with db.session() as s:
        message = Message(
            conversation_id=conversation_id,
            direction=Direction.INBOUND,
            channel=Channel.WHATSAPP,
            body=body,
            status=MessageStatus.RECEIVED,
            processing=Processing.DONE,
            created_at=at or utcnow(),
        )
        s.add(message)
        s.flush()
        if intent is None:
            return message.id, 0
        prediction = MessagePrediction(
            message_id=message.id,
            intent=intent,
            confidence=confidence,
            ranking=[{"name": intent, "confidence": confidence}],
            entities=entities or [],
            model_id="model-1",
        )
        s.add(prediction)
        s.flush()
        return message.id, prediction.id


def copy_nlu_data(target: Path) -> Path:
    """A copy of the real nlu_data/ at `target`, to write examples into; returns `target`."""
    for path in training.DATA_DIR.rglob("*.yml"):
        copy = target / path.relative_to(training.DATA_DIR)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    return target
