"""Enumerations shared by models, services and the Rasa actions."""

from __future__ import annotations

import enum


class Channel(enum.StrEnum):
    """A messaging channel Régua talks on."""

    WHATSAPP = "whatsapp"
    SMS = "sms"


class InvoiceStatus(enum.StrEnum):
    """Life cycle of an invoice."""

    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    IN_AGREEMENT = "in_agreement"


class ConversationState(enum.StrEnum):
    """Who answers the debtor: the bot, nobody yet (waiting for an agent) or an agent."""

    BOT = "bot"
    WAITING_AGENT = "waiting_agent"
    WITH_AGENT = "with_agent"


class Direction(enum.StrEnum):
    """Whether a message came from the debtor or went to the debtor."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(enum.StrEnum):
    """Twilio message statuses plus Régua's own: `received` (inbound), `pending` (outbound saved, not yet
    handed to the provider) and `stored` (the sandbox channel keeps the message instead of sending it)."""

    RECEIVED = "received"
    PENDING = "pending"
    STORED = "stored"
    ACCEPTED = "accepted"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


class OptOutAction(enum.StrEnum):
    """An opt-out (stop messaging on a channel) or an opt-in (consent given or restored)."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class Processing(enum.StrEnum):
    """What Régua did with an inbound message.

    `pending` waits for the bot (or for a retry, see `Message.next_attempt_at`); `done` was answered;
    `for_agent` was stored for the human agent handling the conversation; `ignored` was stored but not
    answered (rate limit, reply-loop guard).
    """

    PENDING = "pending"
    DONE = "done"
    FOR_AGENT = "for_agent"
    IGNORED = "ignored"


class OfferStatus(enum.StrEnum):
    """An agreement offer in a chat: open (waiting for a choice), chosen (waiting for confirmation),
    accepted (an agreement was made), declined or expired."""

    OPEN = "open"
    CHOSEN = "chosen"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class AgreementStatus(enum.StrEnum):
    """Life cycle of an agreement."""

    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class InstalmentStatus(enum.StrEnum):
    """Life cycle of one instalment."""

    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class CaseKind(enum.StrEnum):
    """What an agent is asked to look at: a claimed payment, a disputed debt, or a payment confirmation
    that does not match what was charged (see `bot.payments.mismatches`)."""

    PAYMENT_CLAIM = "payment_claim"
    DISPUTE = "dispute"
    # Payment mismatches (issue 14 §6).
    PARTIAL_PAYMENT = "partial_payment"
    PAYMENT_ON_AGREEMENT = "payment_on_agreement"
    PAYMENT_ON_CANCELLED = "payment_on_cancelled"
    DUPLICATE_PAYMENT = "duplicate_payment"


class CaseStatus(enum.StrEnum):
    """An agent case is open until an agent resolves it."""

    OPEN = "open"
    RESOLVED = "resolved"


class OutboxStatus(enum.StrEnum):
    """A reminder step in the outbox: waiting, claimed by a dispatcher, sent, or not sent (skipped on
    re-check: paid, opted out, paused...; failed: every channel refused it)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class PromiseStatus(enum.StrEnum):
    """A promise to pay on a date: open until a payment keeps it or the date (plus grace) passes."""

    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"


class PageEvent(enum.StrEnum):
    """What a debtor did on the payment page besides opening it (openings are `PaymentLinkView` rows):
    copied the Pix code or the linha digitável (engagement signals for bot.analytics)."""

    PIX_COPIED = "pix_copied"
    LINE_COPIED = "line_copied"


class UserRole(enum.StrEnum):
    """What a person using the console may do (the permissions of each are in `bot.people.roles`)."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    OPS = "ops"  # improves the bot: the NLU inbox and its training data (issue 17)


class NluVerdict(enum.StrEnum):
    """What ops decided about a message in the NLU inbox: the predicted intent was right (`confirmed`),
    another intent is (`relabelled`), no intent fits (`out_of_scope`, labelled `fora_de_escopo`), or the
    message teaches nothing (`discarded`)."""

    CONFIRMED = "confirmed"
    RELABELLED = "relabelled"
    OUT_OF_SCOPE = "out_of_scope"
    DISCARDED = "discarded"


class CandidateStatus(enum.StrEnum):
    """Where a candidate NLU model is: being trained (and evaluated), `ready` (trained and evaluated: the
    gate may judge it) or `failed` (the reason is on the row)."""

    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


class RasaSlot(enum.StrEnum):
    """One of the two Rasa servers (bot.nlu_serving): `blue` on RASA_PORT, `green` on RASA_GREEN_PORT.
    One answers debtors; the other holds the previous model (an instant rollback) or loads the next."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> RasaSlot:
        """The other slot."""
        return RasaSlot.GREEN if self is RasaSlot.BLUE else RasaSlot.BLUE


class DeploymentAction(enum.StrEnum):
    """How a model came to answer debtors: promoted (a new model) or rolled back to (an earlier one)."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"
