"""What the NLU model made of each inbound message, what ops decided about it, and the candidate models
trained from those decisions (issue 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, UTCDateTime, str_enum
from bot.models.conversations import Message
from bot.models.enums import CandidateStatus, NluVerdict


class MessagePrediction(TimestampMixin, Base):
    """One inbound message's prediction (intent, confidence, the ranking's top 3, entities, the model),
    and its way through the NLU inbox: flagged by an agent, reviewed by ops, exported to nlu_data/.

    A message an agent flags that Rasa never read (it arrived while a person had the conversation) gets a
    row without a prediction. Entity values are stored masked: the message body is the only copy of what
    the debtor wrote, so erasing it (LGPD retention) erases everything.
    """

    __tablename__ = "message_predictions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    intent: Mapped[str | None] = mapped_column(String(80), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    # [{"name": ..., "confidence": ...}] (the ranking's top 3, best first).
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    # [{"entity": ..., "value": <masked>, "start": ..., "end": ..., ...}]
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    model_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model_file: Mapped[str | None] = mapped_column(String(200))
    # An agent said "o robô não entendeu" in the conversation view.
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flagged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Ops' decision in the NLU inbox; `label` is the intent written to the training data.
    verdict: Mapped[NluVerdict | None] = mapped_column(str_enum(NluVerdict, "nlu_verdict"), index=True)
    label: Mapped[str | None] = mapped_column(String(80))
    # The entities ops marked on the masked text when deciding: [{"entity": ..., "value": <substring>}]
    # (bot.nlu_ops.annotations), written to the training data as `[value](entity)`. None: none marked.
    annotations: Mapped[list[dict[str, str]] | None] = mapped_column(JsonDoc)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # When the labelled example was written to nlu_data/ (bot.nlu_ops.examples).
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    message: Mapped[Message] = relationship()

    def __repr__(self) -> str:
        return f"<MessagePrediction of message {self.message_id}: {self.intent} {self.confidence}>"


class NluModel(TimestampMixin, Base):
    """A candidate NLU model (issue 17 §4–§5): trained off the serving path by a background job, evaluated
    against the current model, judged by the quality gate (bot.nlu_ops.gate).

    At most one row is `training` at a time (a unique partial index), so two requests cannot train at
    once. `heartbeat_at` is renewed while the job runs: a `training` row whose heartbeat is older than the
    lease belongs to a job that crashed or was killed, and the sweep marks it failed. `error` is a plain
    pt-BR reason without personal data (the Rasa log stays on disk).
    """

    __tablename__ = "nlu_models"
    __table_args__ = (
        Index(
            "uq_nlu_models_one_training",
            "status",
            unique=True,
            postgresql_where=text("status = 'training'"),
            sqlite_where=text("status = 'training'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_file: Mapped[str] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(40))
    status: Mapped[CandidateStatus] = mapped_column(str_enum(CandidateStatus, "candidate_status"), index=True)
    # Who asked: a console user, or None with `requested_via` "cli".
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_via: Mapped[str] = mapped_column(String(20), default="console")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text)
    # bot.nlu_ops.evaluation's result (metrics of both models, regression set, fallback rate, changes).
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    gate_passed: Mapped[bool | None] = mapped_column(Boolean)
    gate_reasons: Mapped[list[str] | None] = mapped_column(JsonDoc)
    override_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    overridden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<NluModel {self.model_file} {self.status}>"
