"""Régua's data model (SQLAlchemy 2 typed models). Import models from here (`from bot.models import Debtor`).

- `base`: the declarative base, the constraint naming convention, `utcnow` and `as_utc`;
- `enums`: the enumerations shared by models, services and the Rasa actions;
- `parties`: `Creditor` and `Debtor`; `invoices`: `Invoice`;
- `conversations`: `Conversation` and `Message`;
- `agreements`: `AgreementPolicy`, `AgreementOffer`, `Agreement`, `Instalment`; `promises`: `PaymentPromise`;
- `payments`: `Payment`, `PaymentLink` (and its views), `Case` (claims, disputes, mismatches for agents);
- `reminders`: the régua's outbox (`OutboxEntry`);
- `compliance`: `OptOutEvent` and `AuditLog`;
- `people`: `User`, a person of the agent console.
"""

from bot.models.agreements import Agreement, AgreementOffer, AgreementPolicy, Instalment, agreement_invoices
from bot.models.base import Base, as_utc, utcnow
from bot.models.compliance import AuditLog, OptOutEvent
from bot.models.conversations import Conversation, Message
from bot.models.enums import (
    AgreementStatus,
    CaseKind,
    CaseStatus,
    Channel,
    ConversationState,
    Direction,
    InstalmentStatus,
    InvoiceStatus,
    MessageStatus,
    OfferStatus,
    OptOutAction,
    OutboxStatus,
    Processing,
    PromiseStatus,
    UserRole,
)
from bot.models.invoices import PAYMENT_REVIEW, Invoice
from bot.models.parties import Creditor, Debtor
from bot.models.payments import Case, Payment, PaymentLink, PaymentLinkView
from bot.models.people import User
from bot.models.promises import PaymentPromise
from bot.models.reminders import OutboxEntry

__all__ = [
    "PAYMENT_REVIEW",
    "Agreement",
    "AgreementOffer",
    "AgreementPolicy",
    "AgreementStatus",
    "AuditLog",
    "Base",
    "Case",
    "CaseKind",
    "CaseStatus",
    "Channel",
    "Conversation",
    "ConversationState",
    "Creditor",
    "Debtor",
    "Direction",
    "Instalment",
    "InstalmentStatus",
    "Invoice",
    "InvoiceStatus",
    "Message",
    "MessageStatus",
    "OfferStatus",
    "OptOutAction",
    "OptOutEvent",
    "OutboxEntry",
    "OutboxStatus",
    "Payment",
    "PaymentLink",
    "PaymentLinkView",
    "PaymentPromise",
    "Processing",
    "PromiseStatus",
    "User",
    "UserRole",
    "agreement_invoices",
    "as_utc",
    "utcnow",
]
