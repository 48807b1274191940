"""Conversations with one address on one channel, and the messages exchanged in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, str_enum
from bot.models.enums import Channel, ConversationState, Direction, MessageStatus
from bot.models.parties import Debtor


class Conversation(TimestampMixin, Base):
    """The thread with one phone number on one channel. Unknown numbers get one too (debtor is None)."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtors.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    address: Mapped[str] = mapped_column(String(16))  # the debtor's side, E.164
    state: Mapped[ConversationState] = mapped_column(
        str_enum(ConversationState, "conversation_state"), default=ConversationState.BOT, index=True
    )
    # WhatsApp allows free-form messages only within 24 hours of the debtor's last message.
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    debtor: Mapped[Debtor | None] = relationship()
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {self.channel} {self.state}>"


class Message(TimestampMixin, Base):
    """One message, inbound or outbound, with its provider identity and delivery status."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    # Twilio's MessageSid (SM.../MM...): unique, which is what makes webhook deliveries idempotent.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    # [{"url": ..., "content_type": ...}, ...]
    media: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "message_status"), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.direction} {self.status}>"
