"""The two parties of a debt: the creditor that is owed and the debtor that owes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.localtime import DEFAULT_TZ
from bot.models.base import Base, BigId, TimestampMixin, UTCDateTime
from bot.models.enums import Channel

if TYPE_CHECKING:
    from bot.models.invoices import Invoice


class Creditor(TimestampMixin, Base):
    """A company whose receivables Régua collects. Its name and CNPJ go on every message (CDC art. 42-A)."""

    __tablename__ = "creditors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str | None] = mapped_column(String(200))
    cnpj: Mapped[str] = mapped_column(String(14), unique=True)
    # How a debtor reaches the creditor itself (SAC phone, e-mail or site), quoted in messages.
    contact_channel: Mapped[str] = mapped_column(String(200))
    # Payments: the creditor's own Pix key and city (for BR Codes of updated amounts and instalments), the
    # bank and convênio its boletos are issued under, and the late-payment rules (basis points).
    pix_key: Mapped[str | None] = mapped_column(String(77))
    city: Mapped[str | None] = mapped_column(String(60))
    boleto_bank_code: Mapped[str | None] = mapped_column(String(3))
    boleto_agreement: Mapped[str | None] = mapped_column(String(7))
    # Multa (2 % is the consumer-credit ceiling, CDC art. 52 §1) and juros de mora per month, pro rata.
    fine_bps: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    monthly_interest_bps: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    # The creditor's own reminder cadence (YAML, see bot.reminders.cadence); None = Régua's default.
    cadence_yaml: Mapped[str | None] = mapped_column(Text)
    # How long reminders of an invoice pause after the debtor says it is paid.
    claim_pause_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # --- Payment webhook secrets (issue 14 §3) ---
    # The creditor's own HMAC key for its payment confirmations (bot.payments.webhook_secrets), and the
    # one it replaced, still accepted until dropped. Kept as issued (an HMAC is checked with the key
    # itself, so it cannot be hashed), shown once, and deferred: ordinary queries never load them.
    payment_webhook_secret: Mapped[str | None] = mapped_column(String(100), deferred=True)
    payment_webhook_secret_previous: Mapped[str | None] = mapped_column(String(100), deferred=True)
    payment_webhook_secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    invoices: Mapped[list[Invoice]] = relationship(back_populates="creditor")

    @property
    def display_name(self) -> str:
        """The name debtors know the creditor by."""
        return self.trade_name or self.legal_name

    def __repr__(self) -> str:
        return f"<Creditor {self.id} {self.cnpj}>"


class Debtor(TimestampMixin, Base):
    """A person who owes one or more invoices. Identified by CPF; reached by phone on WhatsApp and SMS."""

    __tablename__ = "debtors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    cpf: Mapped[str] = mapped_column(String(11), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    # Phone numbers in E.164, Brazilian mobiles always in the 9-digit form (see bot.phones).
    phone: Mapped[str] = mapped_column(String(16), index=True)
    phone_secondary: Mapped[str | None] = mapped_column(String(16), index=True)
    # Twilio's WaId (digits only) once the debtor has written from WhatsApp; may lack the 9th digit.
    whatsapp_id: Mapped[str | None] = mapped_column(String(20), index=True)
    state: Mapped[str | None] = mapped_column(String(2))  # UF, for state holidays and contact-time laws
    timezone: Mapped[str] = mapped_column(String(40), default=DEFAULT_TZ)
    notes: Mapped[str | None] = mapped_column(Text)
    # The creditor's own grouping of its debtors ("varejo", "alto valor"...), set at import; metrics are
    # sliced by it (bot.analytics).
    segment: Mapped[str | None] = mapped_column(String(40), index=True)

    # Per-channel consent and opt-out, with when each happened (the history is in opt_out_events).
    whatsapp_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    whatsapp_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Identity (see bot.conversation.identity): when and from which number the debtor last answered the CPF question
    # (trusted for IDENTITY_VERIFICATION_DAYS), and the wrong answers given from any of their numbers
    # on any channel (they lock the check until IDENTITY_LOCK_HOURS after the last one).
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_phone: Mapped[str | None] = mapped_column(String(16))
    verification_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verification_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # LGPD erasure (bot.privacy.erasure): when the person was anonymised, and a keyed hash (HMAC) of
    # their CPF, so an erasure is idempotent and a re-import of the CPF is refused instead of silently
    # recreating the person. The CPF column then holds a random token that is never a valid CPF.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    # The régua paused for this debtor by an agent (the console's card): no reminder is planned or sent
    # while `reminders_paused_at` is set, whatever the invoice; who paused it and why (bot.console).
    reminders_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_paused_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    reminders_pause_note: Mapped[str | None] = mapped_column(String(200))

    invoices: Mapped[list[Invoice]] = relationship(back_populates="debtor")

    def opted_out(self, channel: Channel) -> bool:
        """True when the debtor asked not to be messaged on `channel`."""
        return getattr(self, f"{Channel(channel).value}_opted_out_at") is not None

    def has_consent(self, channel: Channel) -> bool:
        """True when consent on `channel` was recorded and not withdrawn since."""
        consent = getattr(self, f"{Channel(channel).value}_consent_at")
        opted_out = getattr(self, f"{Channel(channel).value}_opted_out_at")
        return consent is not None and (opted_out is None or opted_out < consent)

    @property
    def first_name(self) -> str:
        """The first name, used to greet the debtor."""
        return self.name.split()[0] if self.name.strip() else self.name

    def __repr__(self) -> str:
        return f"<Debtor {self.id}>"  # never the CPF or name: reprs end up in logs
