"""A charge: what a debtor can pay right now, with the breakdown and every payment instrument.

An open invoice is charged its updated amount (bot.payments.amounts); an agreement instalment its own
amount. The instruments come from the payment provider (bot.payments.providers); the payment page link
and the signed image URLs from bot.payments.links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import texts
from bot.agreements import references
from bot.config import Settings
from bot.models import (
    Agreement,
    AgreementStatus,
    Creditor,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
)
from bot.payments import links
from bot.payments.amounts import Breakdown, updated_amount
from bot.payments.providers import DefaultProvider, PaymentProvider


@dataclass(frozen=True)
class Charge:
    """One thing to pay, ready to show: on the payment page, in the chat, on SMS."""

    creditor: Creditor
    debtor: Debtor
    label: str  # "mensalidade de outubro", "parcela 1 de 6 do acordo 12"
    reference: str  # the invoice's external reference, or "A12P1" for an instalment
    due_date: date
    breakdown: Breakdown
    pix_code: str | None
    boleto_line: str | None
    creditor_url: str | None  # a payment link the creditor imported with the invoice
    invoice_id: int | None = None
    instalment_id: int | None = None

    @property
    def amount_cents(self) -> int:
        """What to pay now."""
        return self.breakdown.total_cents

    def page_url(self, session: Session, settings: Settings) -> str:
        """Régua's payment page for this charge (a new or recent link)."""
        if self.invoice_id is not None:
            link = links.link_for(session, settings, invoice=session.get_one(Invoice, self.invoice_id))
        else:
            link = links.link_for(
                session, settings, instalment=session.get_one(Instalment, self.instalment_id)
            )
        return links.page_url(settings, link)

    def media_url(self, settings: Settings, kind: str) -> str:
        """The signed URL of this charge's Pix QR code ("pix") or boleto barcode ("boleto") image."""
        if self.invoice_id is not None:
            return links.media_url(settings, kind, invoice_id=self.invoice_id)
        return links.media_url(settings, kind, instalment_id=self.instalment_id)


def provider_for(settings: Settings) -> PaymentProvider:
    """The provider that issues instruments (the default one until a PSP integration is configured)."""
    return DefaultProvider(settings)


def invoice_breakdown(invoice: Invoice, today: date) -> Breakdown:
    """The invoice's amount as of `today`: fine and interest per its creditor's rules."""
    creditor = invoice.creditor
    return updated_amount(
        invoice.amount_cents,
        invoice.due_date,
        today,
        fine_bps=creditor.fine_bps,
        monthly_interest_bps=creditor.monthly_interest_bps,
    )


def for_invoice(invoice: Invoice, today: date, provider: PaymentProvider) -> Charge:
    """The charge of an open invoice: updated amount; a Pix code for exactly that amount when the
    provider can issue one (else the imported code); the imported boleto."""
    creditor = invoice.creditor
    breakdown = invoice_breakdown(invoice, today)
    pix_code = provider.pix_code(creditor, breakdown.total_cents, invoice.external_ref) or invoice.pix_code
    return Charge(
        creditor=creditor,
        debtor=invoice.debtor,
        label=texts.invoice_label(invoice.description, invoice.external_ref),
        reference=invoice.external_ref,
        due_date=invoice.due_date,
        breakdown=breakdown,
        pix_code=pix_code,
        boleto_line=invoice.boleto_line,
        creditor_url=invoice.payment_url,
        invoice_id=invoice.id,
    )


def for_instalment(instalment: Instalment, provider: PaymentProvider) -> Charge:
    """The charge of an instalment; its instruments are issued on first use and kept."""
    agreement = instalment.agreement
    creditor = agreement.creditor
    reference = references.instalment_reference(instalment)
    if instalment.pix_code is None:
        instalment.pix_code = provider.pix_code(creditor, instalment.amount_cents, reference)
    if instalment.boleto_line is None:
        instalment.boleto_line = provider.instalment_boleto(creditor, instalment)
    count = len(agreement.instalments)
    return Charge(
        creditor=creditor,
        debtor=agreement.debtor,
        label=texts.instalment_label(instalment.number, agreement.id, count),
        reference=reference,
        due_date=instalment.due_date,
        breakdown=Breakdown(instalment.amount_cents, 0, 0, 0),
        pix_code=instalment.pix_code,
        boleto_line=instalment.boleto_line,
        creditor_url=instalment.payment_url,
        instalment_id=instalment.id,
    )


def open_charges(session: Session, debtor_id: int, today: date, provider: PaymentProvider) -> list[Charge]:
    """Everything the debtor can pay now: open invoices not held by a dispute or a payment under review,
    and the next open instalment of each active agreement not held; oldest due first."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    charges = [for_invoice(i, today, provider) for i in invoices if not i.on_hold]
    for agreement in session.scalars(
        select(Agreement).where(
            Agreement.debtor_id == debtor_id,
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.pause_reason.is_(None),
        )
    ):
        upcoming = [i for i in agreement.instalments if i.status == InstalmentStatus.OPEN]
        if upcoming:
            charges.append(for_instalment(upcoming[0], provider))
    return sorted(charges, key=lambda c: (c.due_date, c.reference))
