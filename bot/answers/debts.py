"""What is owed and how to pay it: `consultar_divida`, `segunda_via`, `forma_pagamento`.

A charge goes out as chat messages (`charge_replies`): the summary with the itemised amount and the payment
page, then the Pix code and the linha digitável each alone. Every message about a debt names the creditor
and its CNPJ (CDC art. 42-A, `creditor_line`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.orm import Session

from bot import texts
from bot.answers.turns import Turn, debtor_today, for_confirmed_debtor
from bot.config import Settings
from bot.delivery.outgoing import Reply
from bot.models import Channel, Conversation, Creditor
from bot.payments import charges
from bot.payments.amounts import Breakdown
from bot.payments.charges import Charge

# Charges detailed with their payment codes in one "segunda via" answer; the rest are summarised.
MAX_DETAILED_INVOICES = 3


def _open_charges(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> tuple[date, list[Charge]]:
    """Today (the debtor's) and what the conversation's debtor can pay now."""
    assert conversation.debtor_id is not None
    today = debtor_today(turn, conversation)
    return today, charges.open_charges(session, conversation.debtor_id, today, charges.provider_for(settings))


def creditor_line(creditor: Creditor) -> str:
    """The creditor as every collection message names it: "Loja X (CNPJ 11.222.333/0001-81)"."""
    return texts.creditor_line(creditor.display_name, creditor.cnpj)


def breakdown_text(breakdown: Breakdown) -> str:
    """The itemised amount: "R$ 163,25 (valor original R$ 159,90 + multa R$ 3,20 + juros R$ 0,15)"."""
    b = breakdown
    return texts.breakdown(
        b.total_cents, b.original_cents, b.fine_cents, b.interest_cents, b.days_late, b.has_charges
    )


def charge_replies(
    session: Session, settings: Settings, charge: Charge, channel: Channel, today: date, *, title: str
) -> list[Reply]:
    """A charge as chat messages: the summary with the breakdown and the payment page link, then the Pix
    code and the linha digitável each alone (a long press copies exactly the code). On WhatsApp the Pix QR
    code and the boleto barcode go as images; SMS carries the codes as text and the link."""
    lines = texts.charge_summary(
        title,
        creditor_line(charge.creditor),
        charge.label,
        breakdown_text(charge.breakdown),
        texts.due_text(charge.due_date, today),
        charge.page_url(session, settings),
    )
    if charge.pix_code:
        lines.append(texts.PIX_CODE_FOLLOWS)
    if charge.boleto_line:
        lines.append(texts.BOLETO_LINE_FOLLOWS)
    replies = [Reply("\n".join(lines))]
    whatsapp = channel == Channel.WHATSAPP
    if charge.pix_code:
        replies.append(Reply(charge.pix_code, [charge.media_url(settings, "pix")] if whatsapp else []))
    if charge.boleto_line:
        replies.append(Reply(charge.boleto_line, [charge.media_url(settings, "boleto")] if whatsapp else []))
    return replies


@for_confirmed_debtor
def segunda_via(session: Session, settings: Settings, turn: Turn, conversation: Conversation) -> list[Reply]:
    """Everything the debtor can pay now (open invoices at their updated amount, the next instalment of
    each agreement) with every payment instrument: Pix, boleto, the payment page."""
    today, found = _open_charges(session, settings, turn, conversation)
    if not found:
        return [Reply(texts.NO_OPEN_INVOICES)]
    replies: list[Reply] = []
    for charge in found[:MAX_DETAILED_INVOICES]:
        replies += charge_replies(
            session, settings, charge, conversation.channel, today, title=texts.CHARGE_TITLE_COPY
        )
    if len(found) > MAX_DETAILED_INVOICES:
        rest = len(found) - MAX_DETAILED_INVOICES
        replies.append(Reply(texts.more_charges(rest)))
    return replies


@for_confirmed_debtor
def consultar_divida(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> list[Reply]:
    """What is owed per creditor: each open charge with its itemised updated amount, and the total."""
    today, found = _open_charges(session, settings, turn, conversation)
    if not found:
        return [Reply(texts.NO_OPEN_INVOICES)]
    by_creditor: dict[int, list[Charge]] = defaultdict(list)
    for charge in found:
        by_creditor[charge.creditor.id].append(charge)
    replies = []
    for group in by_creditor.values():
        total = sum(c.amount_cents for c in group)
        lines = [texts.open_with(creditor_line(group[0].creditor))]
        lines += [
            texts.open_charge(c.label, breakdown_text(c.breakdown), texts.due_text(c.due_date, today))
            for c in group
        ]
        lines.append(texts.total_updated(total))
        replies.append(Reply("\n".join(lines)))
    replies.append(Reply(texts.ASK_FOR_PAYMENT_CODES))
    return replies


def forma_pagamento(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """How to pay (general information: nothing personal, so no identity check)."""
    return [Reply(texts.PAYMENT_METHODS)]
