"""Composing reminders: one combined message per debtor, rendered from the leading row's step and saved.

Several due rows of one debtor and creditor (several open invoices) become one message, rendered from
the most advanced step (SMS text, or outside WhatsApp's 24-hour window an approved template), with the
total due and the payment page of the oldest charge. The messages are saved (`pending`) and the rows
point at them before anything is sent (bot.delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import texts
from bot.channels.whatsapp_window import whatsapp_window_open
from bot.config import Settings
from bot.documents import format_cnpj
from bot.models import (
    Channel,
    Conversation,
    Debtor,
    Direction,
    Instalment,
    Invoice,
    Message,
    MessageStatus,
    OutboxEntry,
)
from bot.money import format_brl
from bot.payments import charges
from bot.reminders import sms
from bot.reminders.cadence import Variant, assignment_key, pick_variant, render_sms, render_whatsapp_variables
from bot.reminders.rechecks import Plan, address_on


def _charge_for(session: Session, settings: Settings, entry: OutboxEntry, today: date) -> charges.Charge:
    provider = charges.provider_for(settings)
    if entry.invoice_id is not None:
        return charges.for_invoice(session.get_one(Invoice, entry.invoice_id), today, provider)
    return charges.for_instalment(session.get_one(Instalment, entry.instalment_id), provider)


def values(
    session: Session, settings: Settings, debtor: Debtor, group: list[OutboxEntry], today: date
) -> dict[str, str]:
    """The placeholder values of a combined message: the first name, the creditor and CNPJ, the total due,
    the earliest due date, and the payment page of the oldest charge."""
    found = sorted(
        (_charge_for(session, settings, e, today) for e in group), key=lambda c: (c.due_date, c.reference)
    )
    oldest = found[0]
    total = format_brl(sum(c.amount_cents for c in found))
    return {
        "nome": debtor.first_name,
        "valor": texts.reminder_amount(total, len(found)),
        "data": oldest.due_date.strftime("%d/%m/%Y"),
        "credor": oldest.creditor.display_name,
        "cnpj": format_cnpj(oldest.creditor.cnpj),
        "link": oldest.page_url(session, settings),
    }


@dataclass
class Draft:
    """A combined message being saved: the debtor, the leading row, the rows it carries, their values."""

    debtor: Debtor
    primary: Plan
    group: list[OutboxEntry]
    values: dict[str, str]

    @property
    def address(self) -> tuple[Channel, str]:
        """The channel and the debtor's address on it."""
        channel = self.primary.entry.channel
        assert channel is not None, "the re-check sets the channel"
        return Channel(channel), address_on(self.debtor, channel)


def _conversations(session: Session, drafts: list[Draft]) -> dict[tuple[Channel, str], Conversation]:
    """The conversation of each draft's channel and address: the existing ones with one query, the missing
    ones created (by the first debtor found at that address) and inserted together."""
    wanted = {draft.address for draft in drafts}
    found = {
        (Channel(c.channel), c.address): c
        for c in session.scalars(
            select(Conversation).where(Conversation.address.in_({address for _, address in wanted}))
        )
        if (Channel(c.channel), c.address) in wanted
    }
    for draft in drafts:
        if draft.address not in found:
            channel, address = draft.address
            found[draft.address] = Conversation(channel=channel, address=address, debtor_id=draft.debtor.id)
            session.add(found[draft.address])
    session.flush()
    return found


def _message(
    settings: Settings, draft: Draft, conversation: Conversation, now: datetime
) -> tuple[Message, Variant | None]:
    """The combined message for `draft` (rendered from the primary row's step and variant), not yet saved."""
    primary = draft.primary
    variant = pick_variant(primary.step, assignment_key(primary.entry.debtor_id, primary.step))
    channel = primary.entry.channel
    inside_24h = whatsapp_window_open(conversation.last_inbound_at, now)
    text = primary.step.sms_for(variant)
    content_sid, variables = None, None
    if channel == Channel.WHATSAPP and not (inside_24h and text):
        # Outside the customer-service window WhatsApp accepts only approved templates.
        template = primary.step.whatsapp_for(variant)
        assert template is not None, "the cadence loader requires a template for the whatsapp channel"
        content_sid, variables = template.content_sid, render_whatsapp_variables(template, draft.values)
        body = f"[modelo {content_sid}] " + " | ".join(variables.values())
    else:
        assert text is not None, "the cadence loader requires sms text for the sms channel"
        body = render_sms(text, draft.values)
        if channel == Channel.SMS and settings.sms_economy:
            body = sms.to_gsm7(body)
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.OUTBOUND,
        channel=Channel(channel),  # type: ignore[arg-type]
        body=body,
        media=[],
        status=MessageStatus.PENDING,
        content_sid=content_sid,
        content_variables=variables,
        # Kept for the cost metrics (bot.analytics): the body itself may be erased by retention.
        segments=sms.segments(body).segments if channel == Channel.SMS else None,
    )
    return message, variant


def save_messages(session: Session, settings: Settings, drafts: list[Draft], now: datetime) -> list[Message]:
    """Save one message per draft (their conversations first) and point the rows at it."""
    conversations = _conversations(session, drafts)
    saved = []
    for draft in drafts:
        message, variant = _message(settings, draft, conversations[draft.address], now)
        session.add(message)
        saved.append((draft, message, variant))
    session.flush()  # every message of the batch in one INSERT
    for draft, message, variant in saved:
        for entry in draft.group:
            entry.message_id = message.id
            # A row of another step carried by this message did not get its own step's variant: no variant,
            # so an experiment's readout never counts it in an arm it was not shown.
            same_step = entry.step_id == draft.primary.step.id
            entry.variant = variant.id if variant is not None and same_step else None
            entry.channel = draft.primary.entry.channel
    return [message for _, message, _ in saved]
