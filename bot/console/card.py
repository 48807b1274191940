"""The debtor card beside a conversation (issue 16 §5): who the debtor is and where their debt stands.

Name, masked CPF, each channel's number (last digits) with consent and opt-out, the open invoices at
today's updated amount, agreements and their instalments, promises, payments, cases, the régua's
reminders (planned and sent) and whether an agent paused it, and the options the creditor's policy
allows for an agreement. Reading only: the actions are in `bot.console.card_actions`. Opening the card
never writes (no payment link, no Pix code is issued until an action sends one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot import texts
from bot.agreements import offers, pricing
from bot.agreements.pricing import Option
from bot.console.assignments import owner_id
from bot.console.card_rows import (
    AGREEMENT_LABELS,
    CHANNEL_LABELS,
    INSTALMENT_LABELS,
    PROMISE_LABELS,
    REMINDER_LABELS,
    AgreementRow,
    CaseRow,
    ChannelState,
    ChargeRow,
    InstalmentRow,
    Pause,
    PaymentRow,
    PendingOffer,
    PromiseRow,
    ReminderRow,
)
from bot.console.cases import KIND_LABELS
from bot.documents import InvalidDocument, mask_cpf
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import (
    Agreement,
    AgreementStatus,
    Case,
    CaseKind,
    CaseStatus,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OfferStatus,
    OutboxEntry,
    OutboxStatus,
    Payment,
    PaymentPromise,
    PromiseStatus,
    User,
)
from bot.payments.charges import invoice_breakdown
from bot.people.roles import NotAllowed, can_see_conversation
from bot.reminders.rechecks import address_on

MAX_ROWS = 10  # per list: the card is a summary, the full history is in the database and the CLI


@dataclass(frozen=True)
class Card:
    """Everything the card shows."""

    conversation_id: int
    debtor_id: int
    name: str
    cpf: str  # masked: "***.456.789-**"
    channels: list[ChannelState]
    charges: list[ChargeRow]
    agreements: list[AgreementRow]
    promises: list[PromiseRow]
    payments: list[PaymentRow]
    cases: list[CaseRow]
    planned: list[ReminderRow]
    past: list[ReminderRow]
    pause: Pause | None
    options: list[Option]  # within the creditor's policy, for the largest debt
    offer_creditor: str | None
    debt_cents: int  # the largest debt the options are for (updated)
    pending_offer: PendingOffer | None
    today: date
    latest_promise: date | None  # the latest date the creditor's policy accepts a promise for

    @property
    def open_total_cents(self) -> int:
        """The open invoices' updated total."""
        return sum(c.total_cents for c in self.charges if c.target.startswith("invoice"))


def _masked_cpf(cpf: str) -> str:
    try:
        return mask_cpf(cpf)
    except InvalidDocument:  # an erased person holds a token, not a CPF
        return "-"


def _channels(debtor: Debtor) -> list[ChannelState]:
    return [
        ChannelState(
            channel=channel,
            label=CHANNEL_LABELS[channel],
            last_digits=address_on(debtor, channel)[-4:],
            consent_at=getattr(debtor, f"{channel.value}_consent_at"),
            opted_out_at=getattr(debtor, f"{channel.value}_opted_out_at"),
        )
        for channel in (Channel.WHATSAPP, Channel.SMS)
    ]


_HOLD_LABELS = {"dispute": "Contestada", "payment_review": "Pagamento em análise"}


def _charges(session: Session, debtor_id: int, today: date) -> list[ChargeRow]:
    rows = []
    for invoice in session.scalars(
        select(Invoice)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    ):
        rows.append(
            ChargeRow(
                target=f"invoice-{invoice.id}",
                creditor=invoice.creditor.display_name,
                label=texts.invoice_label(invoice.description, invoice.external_ref),
                due_date=invoice.due_date,
                original_cents=invoice.amount_cents,
                total_cents=invoice_breakdown(invoice, today).total_cents,
                hold=_HOLD_LABELS.get(invoice.pause_reason or ""),
                paused_until=invoice.collection_paused_until if invoice.pause_reason else None,
            )
        )
    return rows


def _agreements(session: Session, debtor_id: int) -> list[AgreementRow]:
    rows = []
    for agreement in session.scalars(
        select(Agreement)
        .where(Agreement.debtor_id == debtor_id)
        .order_by(Agreement.id.desc())
        .limit(MAX_ROWS)
    ):
        payable = agreement.status == AgreementStatus.ACTIVE and agreement.pause_reason is None
        upcoming = next((i for i in agreement.instalments if i.status == InstalmentStatus.OPEN), None)
        rows.append(
            AgreementRow(
                id=agreement.id,
                creditor=agreement.creditor.display_name,
                status=AGREEMENT_LABELS[AgreementStatus(agreement.status)],
                total_cents=agreement.total_cents,
                created_at=agreement.created_at,
                instalments=[
                    InstalmentRow(
                        number=i.number,
                        amount_cents=i.amount_cents,
                        due_date=i.due_date,
                        status=INSTALMENT_LABELS[InstalmentStatus(i.status)],
                        target=f"instalment-{i.id}" if payable and i is upcoming else None,
                    )
                    for i in agreement.instalments
                ],
            )
        )
    return rows


def _payments(session: Session, debtor_id: int) -> list[PaymentRow]:
    found = session.execute(
        select(Payment, Invoice.external_ref, Instalment.number, Instalment.agreement_id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(Instalment, Instalment.id == Payment.instalment_id)
        .outerjoin(Agreement, Agreement.id == Instalment.agreement_id)
        .where(or_(Invoice.debtor_id == debtor_id, Agreement.debtor_id == debtor_id))
        .order_by(Payment.paid_at.desc())
        .limit(MAX_ROWS)
    ).all()
    return [
        PaymentRow(
            paid_at=payment.paid_at,
            amount_cents=payment.amount_cents,
            what=f"fatura {ref}" if ref is not None else f"parcela {number} do acordo {agreement_id}",
        )
        for payment, ref, number, agreement_id in found
    ]


def _reminder(entry: OutboxEntry) -> ReminderRow:
    return ReminderRow(
        step_id=entry.step_id,
        send_on=entry.send_on,
        status=REMINDER_LABELS[OutboxStatus(entry.status)],
        channel=CHANNEL_LABELS.get(Channel(entry.channel)) if entry.channel else None,
        sent_at=entry.sent_at,
        note=entry.note,
    )


def _reminders(session: Session, debtor_id: int) -> tuple[list[ReminderRow], list[ReminderRow]]:
    waiting = (OutboxStatus.PENDING, OutboxStatus.SENDING)
    planned = session.scalars(
        select(OutboxEntry)
        .where(OutboxEntry.debtor_id == debtor_id, OutboxEntry.status.in_(waiting))
        .order_by(OutboxEntry.send_on, OutboxEntry.id)
        .limit(MAX_ROWS)
    ).all()
    past = session.scalars(
        select(OutboxEntry)
        .where(OutboxEntry.debtor_id == debtor_id, OutboxEntry.status.not_in(waiting))
        .order_by(OutboxEntry.updated_at.desc(), OutboxEntry.id.desc())
        .limit(MAX_ROWS)
    ).all()
    return [_reminder(e) for e in planned], [_reminder(e) for e in past]


def _pending_offer(session: Session, conversation_id: int) -> PendingOffer | None:
    offer = offers.current_offer(session, conversation_id)
    if offer is None or offer.status != OfferStatus.CHOSEN:
        return None
    creditor = session.get_one(Creditor, offer.creditor_id)
    return PendingOffer(offer.id, creditor.display_name, offers.chosen_option(offer), offer.expires_at)


def debtor_today(debtor: Debtor, now: datetime) -> date:
    """Today in the debtor's time zone (due dates and updated amounts are the debtor's)."""
    return local_date(now, debtor.timezone or DEFAULT_TZ)


def load(session: Session, viewer: User, conversation: Conversation, now: datetime) -> Card | None:
    """The card of the conversation's debtor as `viewer` may read it; None when the debtor is not
    identified yet. Raises `NotAllowed` when the viewer may not read the conversation."""
    if not can_see_conversation(viewer, owner_id(conversation)):
        raise NotAllowed("Esta conversa está com outra pessoa.")
    debtor = conversation.debtor
    if debtor is None:
        return None
    today = debtor_today(debtor, now)
    debt = offers.largest_debt(session, debtor.id, today)
    options: list[Option] = []
    latest_promise = None
    if debt is not None:
        policy = pricing.policy_for(session, debt.creditor.id)
        options = pricing.compute_options(debt.total_cents, policy, today)
        latest_promise = today + timedelta(days=policy.max_promise_days)
    promises = session.scalars(
        select(PaymentPromise)
        .where(PaymentPromise.debtor_id == debtor.id)
        .order_by(PaymentPromise.id.desc())
        .limit(MAX_ROWS)
    ).all()
    cases = session.scalars(
        select(Case).where(Case.debtor_id == debtor.id).order_by(Case.id.desc()).limit(MAX_ROWS)
    ).all()
    planned, past = _reminders(session, debtor.id)
    pause = None
    if debtor.reminders_paused_at is not None:
        by = (
            session.get(User, debtor.reminders_paused_by_user_id)
            if debtor.reminders_paused_by_user_id
            else None
        )
        pause = Pause(debtor.reminders_paused_at, by.name if by else None, debtor.reminders_pause_note)
    return Card(
        conversation_id=conversation.id,
        debtor_id=debtor.id,
        name=debtor.name,
        cpf=_masked_cpf(debtor.cpf),
        channels=_channels(debtor),
        charges=_charges(session, debtor.id, today),
        agreements=_agreements(session, debtor.id),
        promises=[
            PromiseRow(
                p.promised_on, p.amount_cents, PROMISE_LABELS[PromiseStatus(p.status)], p.created_by != "bot"
            )
            for p in promises
        ],
        payments=_payments(session, debtor.id),
        cases=[
            CaseRow(c.id, KIND_LABELS[CaseKind(c.kind)], c.status == CaseStatus.OPEN, c.created_at, c.note)
            for c in cases
        ],
        planned=planned,
        past=past,
        pause=pause,
        options=options,
        offer_creditor=debt.creditor.display_name if debt is not None else None,
        debt_cents=debt.total_cents if debt is not None else 0,
        pending_offer=_pending_offer(session, conversation.id),
        today=today,
        latest_promise=latest_promise,
    )
