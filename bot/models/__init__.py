"""Régua's data model (SQLAlchemy 2 typed models). Import models from here."""

from bot.models.base import Base, as_utc, utcnow
from bot.models.compliance import AuditLog, OptOutEvent
from bot.models.conversations import Conversation, Message
from bot.models.enums import (
    Channel,
    ConversationState,
    Direction,
    InvoiceStatus,
    MessageStatus,
    OptOutAction,
    Processing,
)
from bot.models.invoices import Invoice
from bot.models.parties import Creditor, Debtor

__all__ = [
    "AuditLog",
    "as_utc",
    "Base",
    "Channel",
    "Conversation",
    "ConversationState",
    "Creditor",
    "Debtor",
    "Direction",
    "Invoice",
    "InvoiceStatus",
    "Message",
    "MessageStatus",
    "OptOutAction",
    "OptOutEvent",
    "Processing",
    "utcnow",
]
