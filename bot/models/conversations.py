"""Conversations with one address on one channel, and the messages exchanged in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, BigId, JsonDoc, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import Channel, ConversationState, Direction, MessageStatus, Processing
from bot.models.parties import Debtor
from bot.models.people import User

_HANDED_OVER = "state IN ('waiting_agent', 'with_agent')"


class Conversation(TimestampMixin, Base):
    """The thread with one phone number on one channel. Unknown numbers get one too (debtor is None)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        # The console's queue (bot.console.queue, bot.console.notifications): a few thousand conversations
        # handed over to people among hundreds of thousands, walked in request order (the page stops after
        # its rows) and counted per reason and owner from the index alone.
        Index(
            "ix_conversations_handed_over",
            "handoff_requested_at",
            "id",
            "state",
            "assigned_user_id",
            "handoff_reason",
            postgresql_where=text(_HANDED_OVER),
            sqlite_where=text(_HANDED_OVER),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtors.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    address: Mapped[str] = mapped_column(String(16))  # the debtor's side, E.164
    state: Mapped[ConversationState] = mapped_column(
        str_enum(ConversationState, "conversation_state"), default=ConversationState.BOT, index=True
    )
    # Our side of the thread (Twilio's `To` of the debtor's last message): replies go out from it.
    our_address: Mapped[str | None] = mapped_column(String(40))
    # WhatsApp allows free-form messages only within 24 hours of the debtor's last message.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # One processor at a time per conversation keeps a debtor's messages in order. A processor claims
    # the conversation with a conditional UPDATE on these two columns; the lease expires by itself if
    # the processor dies.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Identity: when the CPF question was asked here and the message held while we asked (the answer
    # itself, and the wrong-answer count, are the debtor's: see bot.conversation.identity).
    verification_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    held_message_id: Mapped[int | None] = mapped_column(BigId)

    # When the debtor was told that the assistant is unavailable (cleared once it answers again), so
    # an outage produces one polite notice per conversation, not one per message or retry.
    outage_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handoff_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the conversation waits for a person (agents see it; legal threats and complaints go first).
    handoff_reason: Mapped[str | None] = mapped_column(String(20))
    # The person who owns the conversation while it is `with_agent` (bot.console.assignments); ignored in
    # any other state.
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # When its owner last acted on it (took it, answered, wrote a note): an owned conversation left
    # untouched for CONSOLE_RELEASE_AFTER_MINUTES goes back to the queue (bot.console.giveback).
    agent_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # LGPD: when the number was replaced by a random token (erasure, or an unknown number past retention).
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    debtor: Mapped[Debtor | None] = relationship()
    assigned_user: Mapped[User | None] = relationship()
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {self.channel} {self.state}>"


class Message(TimestampMixin, Base):
    """One message, inbound or outbound, with its provider identity and delivery status."""

    __tablename__ = "messages"
    # Finding the next message to process (or to retry) for a conversation.
    __table_args__ = (
        Index("ix_messages_conversation_id_processing", "conversation_id", "processing"),
        # The retention job's question: which messages, not yet redacted, are older than the period?
        Index("ix_messages_redacted_at_created_at", "redacted_at", "created_at"),
        # The console's alerts: a person's conversations' messages since a moment (bot.console.notifications).
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # For a reply: the inbound message it answers.
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    # Twilio's MessageSid (SM.../MM...): unique, which is what makes webhook deliveries idempotent.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    # [{"url": ..., "content_type": ...}, ...]
    media: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    # An approved WhatsApp template (Twilio Content API) instead of free text, outside the 24-hour window.
    content_sid: Mapped[str | None] = mapped_column(String(34))
    content_variables: Mapped[dict[str, str] | None] = mapped_column(JsonDoc)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "message_status"), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    # An outbound SMS reminder: the segments it is billed as (bot.reminders.sms), for its cost (bot.analytics).
    segments: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Inbound: what Régua did with it. Outbound: unused (the status says it).
    processing: Mapped[Processing | None] = mapped_column(str_enum(Processing, "processing"), index=True)
    processing_note: Mapped[str | None] = mapped_column(String(40))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Retries (processing an inbound message, or handing an outbound one to the provider).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # LGPD: when body, media and template variables were erased (retention or the person's erasure).
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An agent's message: who wrote it (None: the bot, a reminder, the debtor), and the nonce of the form
    # it came from, unique, so a resubmitted form never saves (nor sends) it twice (bot.console.composer).
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_nonce: Mapped[str | None] = mapped_column(String(64), unique=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    @property
    def text_for_logs(self) -> str:
        """A description safe for logs: never the body, which may hold personal data."""
        return f"message {self.id} ({self.direction}, {self.channel}, {len(self.body or '')} chars)"

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.direction} {self.status}>"


class ConversationNote(TimestampMixin, Base):
    """An internal note on a conversation: agents and supervisors read it, the debtor never does."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ConversationNote {self.id} of conversation {self.conversation_id}>"
