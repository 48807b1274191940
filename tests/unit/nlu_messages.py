"""Inbound messages with recorded predictions, for the NLU inbox tests (straight into the database)."""

from __future__ import annotations

from datetime import datetime

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
) -> tuple[int, int]:
    """An inbound message the model read as `intent` with `confidence`; returns (message id, prediction
    id). `intent=None` leaves the message without a prediction (prediction id 0)."""
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
            entities=[],
            model_id="model-1",
        )
        s.add(prediction)
        s.flush()
        return message.id, prediction.id
