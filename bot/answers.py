"""What the bot answers to each business intent. The Rasa actions in `actions/` call these functions.

Every function takes a session, the settings and the `Turn` (which conversation and which inbound message)
and returns the `Reply`s to send. Personal data (amounts, due dates, payment codes) is shown only when the
number is confirmed as the debtor's (bot.identity); otherwise the reply reveals nothing. Every message
about a debt names the creditor and its CNPJ (CDC art. 42-A).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot import handoff, identity, optout, texts
from bot.config import Settings, get_settings
from bot.db import get_database
from bot.documents import format_cnpj
from bot.identity import Trust
from bot.models import Conversation, Creditor, Invoice, InvoiceStatus, Message, OptOutAction
from bot.money import format_brl
from bot.outbound import Reply

# Invoices detailed with their payment codes in one "segunda via" answer; the rest are summarised.
MAX_DETAILED_INVOICES = 3


@dataclass(frozen=True)
class Turn:
    """The conversation (Rasa's sender id) and the inbound message being answered."""

    conversation_id: int | None
    message_id: int | None = None
    today: date | None = None

    @classmethod
    def from_ids(cls, sender_id: str | None, message_id: object = None) -> Turn:
        """A turn from Rasa's sender id and the message id in the message metadata (both may be junk)."""
        conversation_id = int(sender_id) if sender_id and str(sender_id).isdigit() else None
        message = int(message_id) if isinstance(message_id, int | str) and str(message_id).isdigit() else None
        return cls(conversation_id, message)


def _conversation(session: Session, turn: Turn) -> Conversation | None:
    if turn.conversation_id is None:
        return None
    return session.get(Conversation, turn.conversation_id)


def _own_message(session: Session, conversation: Conversation, turn: Turn) -> int | None:
    """The turn's message id if it is a message of this conversation (metadata comes over HTTP)."""
    if turn.message_id is None:
        return None
    owner = session.scalar(select(Message.conversation_id).where(Message.id == turn.message_id))
    return turn.message_id if owner == conversation.id else None


def _gate(session: Session, settings: Settings, conversation: Conversation | None, turn: Turn) -> list[Reply]:
    """Replies to send instead of personal data, or [] when the number is confirmed as the debtor's."""
    trust = identity.trust(settings, conversation) if conversation is not None else Trust.UNKNOWN
    if trust == Trust.CONFIRMED:
        return []
    if trust == Trust.UNCONFIRMED and conversation is not None:
        identity.ask(conversation, _own_message(session, conversation, turn))
        return [Reply(texts.VERIFY_ASK)]
    if trust == Trust.LOCKED:
        return [Reply(texts.VERIFY_LOCKED)]
    return [Reply(texts.UNKNOWN_NUMBER)]


def _open_invoices(session: Session, debtor_id: int) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .options(selectinload(Invoice.creditor))
            .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def creditor_line(creditor: Creditor) -> str:
    """The creditor as every collection message names it: "Loja X (CNPJ 11.222.333/0001-81)"."""
    return f"{creditor.display_name} (CNPJ {format_cnpj(creditor.cnpj)})"


def _due_text(invoice: Invoice, today: date) -> str:
    when = invoice.due_date.strftime("%d/%m/%Y")
    if invoice.due_date < today:
        return f"venceu em {when}"
    if invoice.due_date == today:
        return "vence hoje"
    return f"vence em {when}"


def _invoice_label(invoice: Invoice) -> str:
    return invoice.description or f"fatura {invoice.external_ref}"


def segunda_via(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """The debtor's open invoices with every payment instrument they have (Pix, boleto line, link)."""
    conversation = _conversation(session, turn)
    gate = _gate(session, settings, conversation, turn)
    if gate:
        return gate
    assert conversation is not None and conversation.debtor_id is not None
    invoices = _open_invoices(session, conversation.debtor_id)
    if not invoices:
        return [Reply(texts.NO_OPEN_INVOICES)]
    today = turn.today or date.today()
    replies: list[Reply] = []
    for invoice in invoices[:MAX_DETAILED_INVOICES]:
        lines = [
            f"Segunda via — {creditor_line(invoice.creditor)}",
            f"{_invoice_label(invoice).capitalize()}: {format_brl(invoice.amount_cents)}, "
            f"{_due_text(invoice, today)}.",
        ]
        if invoice.payment_url:
            lines.append(f"Link para pagamento: {invoice.payment_url}")
        if invoice.pix_code:
            lines.append("Pix copia e cola: copie o código da próxima mensagem e cole no app do seu banco.")
        if invoice.boleto_line:
            lines.append("Boleto: a linha digitável vem em seguida, pronta para copiar.")
        if not (invoice.payment_url or invoice.pix_code or invoice.boleto_line):
            lines.append(
                "Os códigos de pagamento desta fatura ainda não estão disponíveis por aqui; "
                f"fale com a empresa: {invoice.creditor.contact_channel}."
            )
        replies.append(Reply("\n".join(lines)))
        # Codes go alone in their own message, so a long press copies exactly the code.
        if invoice.pix_code:
            replies.append(Reply(invoice.pix_code))
        if invoice.boleto_line:
            replies.append(Reply(invoice.boleto_line))
    if len(invoices) > MAX_DETAILED_INVOICES:
        rest = len(invoices) - MAX_DETAILED_INVOICES
        replies.append(
            Reply(
                f'Você tem mais {rest} fatura(s) em aberto. Escreva "quanto devo" para ver a lista completa.'
            )
        )
    return replies


def consultar_divida(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """The open invoices per creditor: amount and due date of each, and the total."""
    conversation = _conversation(session, turn)
    gate = _gate(session, settings, conversation, turn)
    if gate:
        return gate
    assert conversation is not None and conversation.debtor_id is not None
    invoices = _open_invoices(session, conversation.debtor_id)
    if not invoices:
        return [Reply(texts.NO_OPEN_INVOICES)]
    today = turn.today or date.today()
    by_creditor: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_creditor[invoice.creditor_id].append(invoice)
    replies = []
    for group in by_creditor.values():
        total = sum(i.amount_cents for i in group)
        lines = [f"Faturas em aberto com {creditor_line(group[0].creditor)}:"]
        lines += [
            f"• {_invoice_label(i)}: {format_brl(i.amount_cents)}, {_due_text(i, today)}" for i in group
        ]
        lines.append(f"Total: {format_brl(total)}.")
        replies.append(Reply("\n".join(lines)))
    replies.append(
        Reply('Para receber os códigos de pagamento, escreva "segunda via". Se precisar, podemos negociar.')
    )
    return replies


def forma_pagamento(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """How to pay (general information: nothing personal, so no identity check)."""
    return [Reply(texts.PAYMENT_METHODS)]


def parar(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """Opt the number out of the conversation's channel (the NLU path of PARAR)."""
    conversation = _conversation(session, turn)
    if conversation is None:
        return [Reply(texts.NO_ANSWER)]
    optout.record_for_conversation(
        session,
        conversation,
        OptOutAction.OPT_OUT,
        source="nlu",
        message_id=_own_message(session, conversation, turn),
    )
    return [Reply(texts.opt_out_confirmed(conversation.channel))]


def falar_atendente(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """Hand the conversation to a person and say when they will answer."""
    conversation = _conversation(session, turn)
    if conversation is None:
        return [Reply(texts.NO_ANSWER)]
    if not handoff.request(session, conversation, actor="bot"):
        return [Reply(texts.HANDOFF_ALREADY)]
    return [Reply(texts.handoff(handoff.when_agents_answer(settings)))]


def fallback(misses: int) -> list[Reply]:
    """Ask to rephrase after the first miss; offer a person from the second consecutive miss on."""
    return [Reply(texts.FALLBACK_REPHRASE if misses <= 1 else texts.FALLBACK_OFFER_HUMAN)]


Handler = Callable[[Session, Settings, Turn], list[Reply]]


def respond(
    handler: Handler,
    sender_id: str | None,
    metadata: Mapping[str, Any] | None,
    *,
    settings: Settings | None = None,
) -> list[Reply]:
    """Run `handler` for Rasa's sender id and message metadata in its own transaction (what an action
    calls). The database is the process-wide one for the settings."""
    settings = settings or get_settings()
    turn = Turn.from_ids(sender_id, (metadata or {}).get("message_id"))
    with get_database(settings.effective_database_url).session() as session:
        return handler(session, settings, turn)


def consecutive_misses(events: list[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row the NLU could not understand (at least 1: this
    is asked when the fallback runs)."""
    misses = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        misses += 1
    return max(misses, 1)
