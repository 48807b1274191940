"""Records kept for compliance: opt-out history and the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, str_enum
from bot.models.enums import Channel, OptOutAction


class OptOutEvent(TimestampMixin, Base):
    """One change of a debtor's (or an unknown number's) permission to be messaged on a channel."""

    __tablename__ = "opt_out_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtors.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "opt_out_channel"))
    # E.164, or (after the person's erasure) a keyed hash of it that still matches the number (bot.privacy).
    address: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[OptOutAction] = mapped_column(str_enum(OptOutAction, "opt_out_action"))
    # keyword, nlu, provider_error, import, agent, ...
    source: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))


class AuditLog(TimestampMixin, Base):
    """Who did what to which record, for disputes and regulators. Never holds secrets."""

    __tablename__ = "audit_log"
    # The handoffs of a debtor's conversations (bot.analytics.reactions), for every reminder counted.
    __table_args__ = (Index("ix_audit_log_entity_type_entity_id", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))  # "system", "cli", "agent:<id>", "debtor:<id>"
    action: Mapped[str] = mapped_column(String(80), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
