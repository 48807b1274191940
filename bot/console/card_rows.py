"""The rows of the debtor card (bot.console.card): typed, frozen, ready for the template, with the pt-BR
labels of each status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.agreements.pricing import Option
from bot.models import AgreementStatus, Channel, InstalmentStatus, OutboxStatus, PromiseStatus

AGREEMENT_LABELS = {
    AgreementStatus.ACTIVE: "Ativo",
    AgreementStatus.COMPLETED: "Quitado",
    AgreementStatus.BROKEN: "Quebrado",
    AgreementStatus.CANCELLED: "Cancelado",
}
INSTALMENT_LABELS = {
    InstalmentStatus.OPEN: "Em aberto",
    InstalmentStatus.PAID: "Paga",
    InstalmentStatus.CANCELLED: "Cancelada",
}
PROMISE_LABELS = {
    PromiseStatus.OPEN: "Aguardando",
    PromiseStatus.KEPT: "Cumprida",
    PromiseStatus.BROKEN: "Não cumprida",
}
REMINDER_LABELS = {
    OutboxStatus.PENDING: "Planejado",
    OutboxStatus.SENDING: "Enviando",
    OutboxStatus.SENT: "Enviado",
    OutboxStatus.SKIPPED: "Não enviado",
    OutboxStatus.FAILED: "Falhou",
}
CHANNEL_LABELS = {Channel.WHATSAPP: "WhatsApp", Channel.SMS: "SMS"}


@dataclass(frozen=True)
class ChannelState:
    """One channel of the debtor: the number's last digits, consent and opt-out."""

    channel: Channel
    label: str
    last_digits: str
    consent_at: datetime | None
    opted_out_at: datetime | None

    @property
    def opted_out(self) -> bool:
        """True when the debtor asked not to be messaged on this channel."""
        return self.opted_out_at is not None and (
            self.consent_at is None or self.opted_out_at >= self.consent_at
        )


@dataclass(frozen=True)
class ChargeRow:
    """An open invoice at today's updated amount, or an instalment; `target` names it in an action."""

    target: str  # "invoice-12" or "instalment-7"
    creditor: str
    label: str
    due_date: date
    original_cents: int
    total_cents: int
    hold: str | None  # why it cannot be charged now ("Contestada", "Pagamento em análise"), or None
    paused_until: datetime | None  # reminders paused (a "já paguei", a promise)

    @property
    def can_send(self) -> bool:
        """True when a segunda via may be sent for it."""
        return self.hold is None


@dataclass(frozen=True)
class InstalmentRow:
    """One instalment of an agreement."""

    number: int
    amount_cents: int
    due_date: date
    status: str
    target: str | None  # set when it is the next one to pay (a segunda via may be sent)


@dataclass(frozen=True)
class AgreementRow:
    """An agreement with its instalments."""

    id: int
    creditor: str
    status: str
    total_cents: int
    created_at: datetime
    instalments: list[InstalmentRow]


@dataclass(frozen=True)
class PromiseRow:
    """A promise to pay."""

    promised_on: date
    amount_cents: int
    status: str
    by_agent: bool


@dataclass(frozen=True)
class PaymentRow:
    """A payment received."""

    paid_at: datetime
    amount_cents: int
    what: str


@dataclass(frozen=True)
class CaseRow:
    """A case of the debtor (open ones may be resolved from the card)."""

    id: int
    kind: str
    open: bool
    created_at: datetime
    note: str | None


@dataclass(frozen=True)
class ReminderRow:
    """A reminder step of the régua: planned, or already decided (sent, skipped, failed)."""

    step_id: str
    send_on: date
    status: str
    channel: str | None
    sent_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class Pause:
    """The régua paused for the debtor by an agent."""

    since: datetime
    by: str | None
    note: str | None


@dataclass(frozen=True)
class PendingOffer:
    """The agreement proposed in this conversation, waiting for the debtor's yes."""

    id: int
    creditor: str
    option: Option
    expires_at: datetime
