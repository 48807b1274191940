"""Régua's data model (SQLAlchemy 2 typed models). Import models from here (`from bot.models import Debtor`).

- `base`: the declarative base, the constraint naming convention, `utcnow` and `as_utc`;
- `enums`: the enumerations shared by models, services and the Rasa actions;
- `parties`: `Creditor` and `Debtor`; `invoices`: `Invoice`;
- `conversations`: `Conversation`, `Message` and `ConversationNote` (agents' internal notes);
- `agreements`: `AgreementPolicy`, `AgreementOffer`, `Agreement`, `Instalment`; `promises`: `PaymentPromise`;
- `payments`: `Payment`, `PaymentLink` (its views, and `PaymentPageEvent`: copy buttons pressed), `Case`
  (claims, disputes, mismatches for agents);
- `reminders`: the régua's outbox (`OutboxEntry`);
- `compliance`: `OptOutEvent` and `AuditLog`;
- `people`: `User`, a person of the agent console;
- `nlu`: `MessagePrediction`, what the NLU model made of an inbound message and what ops decided;
  `NluModel`, a candidate model trained from those decisions, its evaluation and the gate's verdict.
- `serving`: `NluServing` (which Rasa slot answers debtors, the swap in progress) and `NluDeployment`.
"""

from bot.models.agreements import Agreement, AgreementOffer, AgreementPolicy, Instalment, agreement_invoices
from bot.models.base import Base, as_utc, utcnow
from bot.models.compliance import AuditLog, OptOutEvent
from bot.models.conversations import Conversation, ConversationNote, Message
from bot.models.enums import (
    AgreementStatus,
    CaseKind,
    CaseStatus,
    CandidateStatus,
    Channel,
    ConversationState,
    DeploymentAction,
    Direction,
    InstalmentStatus,
    InvoiceStatus,
    MessageStatus,
    NluVerdict,
    OfferStatus,
    OptOutAction,
    OutboxStatus,
    PageEvent,
    Processing,
    PromiseStatus,
    RasaSlot,
    UserRole,
)
from bot.models.invoices import PAYMENT_REVIEW, Invoice
from bot.models.nlu import MessagePrediction, NluModel
from bot.models.parties import Creditor, Debtor
from bot.models.payments import Case, Payment, PaymentLink, PaymentLinkView, PaymentPageEvent
from bot.models.people import User
from bot.models.promises import PaymentPromise
from bot.models.reminders import OutboxEntry
from bot.models.serving import NluDeployment, NluServing

__all__ = [
    "PAYMENT_REVIEW",
    "Agreement",
    "AgreementOffer",
    "AgreementPolicy",
    "AgreementStatus",
    "AuditLog",
    "CandidateStatus",
    "Base",
    "Case",
    "CaseKind",
    "CaseStatus",
    "Channel",
    "Conversation",
    "ConversationNote",
    "ConversationState",
    "DeploymentAction",
    "Creditor",
    "Debtor",
    "Direction",
    "Instalment",
    "InstalmentStatus",
    "Invoice",
    "InvoiceStatus",
    "Message",
    "MessagePrediction",
    "MessageStatus",
    "NluModel",
    "NluDeployment",
    "NluServing",
    "NluVerdict",
    "OfferStatus",
    "OptOutAction",
    "OptOutEvent",
    "OutboxEntry",
    "OutboxStatus",
    "PageEvent",
    "Payment",
    "PaymentLink",
    "PaymentLinkView",
    "PaymentPageEvent",
    "PaymentPromise",
    "Processing",
    "PromiseStatus",
    "RasaSlot",
    "User",
    "UserRole",
    "agreement_invoices",
    "as_utc",
    "utcnow",
]
