"""What the bot answers to each business intent. The Rasa actions in `actions/` call these functions.

Every function takes a session, the settings and the `Turn` (which conversation and which inbound message)
and returns the `Reply`s to send. Personal data (amounts, due dates, payment codes) is shown only when the
number is confirmed as the debtor's (bot.conversation.identity); otherwise the reply reveals nothing. Every
message
about a debt names the creditor and its CNPJ (CDC art. 42-A).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import agreements, claims, optout, texts
from bot.config import Settings, get_settings
from bot.conversation import contacts, handoff, identity
from bot.conversation.identity import Trust
from bot.db import get_database
from bot.delivery.outgoing import Reply
from bot.localtime import DEFAULT_TZ
from bot.models import (
    Channel,
    Conversation,
    Creditor,
    Message,
    OfferStatus,
    OptOutAction,
    as_utc,
    utcnow,
)
from bot.payments import charges
from bot.payments.amounts import Breakdown
from bot.payments.charges import Charge

# Charges detailed with their payment codes in one "segunda via" answer; the rest are summarised.
MAX_DETAILED_INVOICES = 3


Handler = Callable[[Session, Settings, "Turn"], list[Reply]]


@dataclass(frozen=True)
class Turn:
    """The conversation (Rasa's sender id), the inbound message being answered and its entities."""

    conversation_id: int | None
    message_id: int | None = None
    today: date | None = None
    entities: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the message as typed (a date the NLU did not tag is still read from it)

    @classmethod
    def from_ids(
        cls,
        sender_id: str | None,
        message_id: object = None,
        entities: Mapping[str, str] | None = None,
        text: str = "",
    ) -> Turn:
        """A turn from Rasa's sender id and the message id in the message metadata (both may be junk)."""
        conversation_id = int(sender_id) if sender_id and str(sender_id).isdigit() else None
        message = int(message_id) if isinstance(message_id, int | str) and str(message_id).isdigit() else None
        return cls(conversation_id, message, entities=dict(entities or {}), text=text)


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
    if trust == Trust.UNKNOWN and conversation is not None and conversation.debtor_id is not None:
        # A stale link (the number is no longer its debtor's): follow the number, and decide again.
        contacts.relink(session, conversation)
        trust = identity.trust(settings, conversation)
    if trust == Trust.CONFIRMED:
        return []
    if trust == Trust.UNCONFIRMED and conversation is not None:
        identity.ask(conversation, _own_message(session, conversation, turn))
        return [Reply(texts.VERIFY_ASK)]
    if trust == Trust.LOCKED:
        return [Reply(texts.VERIFY_LOCKED)]
    return [Reply(texts.UNKNOWN_NUMBER)]


def for_confirmed_debtor(
    handler: Callable[[Session, Settings, Turn, Conversation], list[Reply]],
) -> Handler:
    """Run `handler` only for a number confirmed as the debtor's (it shows personal data); otherwise
    answer with what bot.conversation.identity allows (ask the CPF digits, or reveal nothing)."""

    @functools.wraps(handler)
    def gated(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
        conversation = _conversation(session, turn)
        gate = _gate(session, settings, conversation, turn)
        if gate:
            return gate
        assert conversation is not None
        return handler(session, settings, turn, conversation)

    return gated


def _open_charges(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> tuple[date, list[Charge]]:
    """Today (the debtor's) and what the conversation's debtor can pay now."""
    assert conversation.debtor_id is not None
    today = _debtor_today(turn, conversation)
    return today, charges.open_charges(session, conversation.debtor_id, today, charges.provider_for(settings))


def _debtor_today(turn: Turn, conversation: Conversation) -> date:
    """Today in the debtor's time zone (a debtor in Acre is two hours behind Brasília at midnight)."""
    if turn.today is not None:
        return turn.today
    zone = conversation.debtor.timezone if conversation.debtor is not None else DEFAULT_TZ
    return agreements.moment_to_date(utcnow(), zone)


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


@for_confirmed_debtor
def renegociar(session: Session, settings: Settings, turn: Turn, conversation: Conversation) -> list[Reply]:
    """Offer two or three concrete agreement options within the creditor's policy: the instalment count
    the debtor asked for when allowed, else the nearest allowed with the reason; the same request again
    gets a short answer pointing at the options already sent."""
    assert conversation.debtor_id is not None
    today = _debtor_today(turn, conversation)
    requested = _instalments(turn.entities.get("parcelas"))
    previous = agreements.current_offer(session, conversation.id)
    previous_options = list(previous.options) if previous is not None else None
    made = agreements.make_offer(session, conversation, today, requested)
    if made is None:
        return [Reply(texts.NOTHING_TO_NEGOTIATE)]
    offer, creditor = made
    options = agreements.options_of(offer)
    policy = agreements.policy_for(session, creditor.id)
    refused = bool(requested and requested > 1 and not any(o.instalments == requested for o in options))
    if previous_options == offer.options:
        # Same options as the message just sent: a short pointer instead of the same long text again.
        return [Reply(texts.same_options(requested if refused else None, policy.max_instalments))]
    debt = options[0].total_cents + options[0].discount_cents
    lines = [
        texts.offer_intro(creditor_line(creditor), debt),
        texts.OFFER_OPTIONS,
        *(texts.offer_option(o.number, o.describe()) for o in options),
        texts.offer_first_due(options[0].first_due_date),
    ]
    if refused:
        assert requested is not None
        nearest = agreements.nearest_count(debt, requested, policy, today)
        lines.append(
            texts.instalments_not_allowed(
                requested, policy.max_instalments, policy.min_instalment_cents, nearest
            )
        )
    lines.append(texts.OFFER_PICK)
    return [Reply("\n".join(lines))]


def _instalments(parcelas: str | None) -> int | None:
    digits = re.findall(r"\d+", parcelas or "")
    return int(digits[0]) if digits else None


def answer_offer(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    message: Message,
    parcelas: str | None = None,
    intent: str | None = None,
) -> list[Reply] | None:
    """The reply when the message answers the conversation's pending agreement offer (a pick, a yes or a
    no); None when it does not (the message then goes to the NLU as usual)."""
    offer = agreements.current_offer(session, conversation.id)
    if offer is None:
        return None
    if identity.trust(settings, conversation) != Trust.CONFIRMED:
        # The offer's terms are the debtor's: not for a number that is no longer confirmed as theirs.
        return None
    creditor = session.get_one(Creditor, offer.creditor_id)
    if offer.status == OfferStatus.OPEN:
        option = agreements.pick(message.body, agreements.options_of(offer), parcelas)
        if option is None:
            return None
        agreements.choose(offer, option)
        return [Reply(texts.confirm_agreement(agreements.terms(option, creditor)))]
    answer = agreements.yes_or_no(message.body)
    if answer is None and intent in ("afirmar", "negar"):
        answer = intent == "afirmar"
    if answer is None:
        option = agreements.pick(message.body, agreements.options_of(offer), parcelas)
        if option is None:
            return None
        agreements.choose(offer, option)  # changed their mind before confirming
        return [Reply(texts.confirm_agreement(agreements.terms(option, creditor)))]
    if not answer:
        agreements.decline(offer)
        return [Reply(texts.AGREEMENT_DECLINED)]
    agreement = agreements.accept(session, offer, actor=f"debtor:{offer.debtor_id}")
    first = agreement.instalments[0]
    today = agreements.moment_to_date(
        utcnow(), conversation.debtor.timezone if conversation.debtor else DEFAULT_TZ
    )
    charge = charges.for_instalment(first, charges.provider_for(settings))
    replies = [Reply(texts.agreement_closed(agreement.id, agreement.terms or ""))]
    replies += charge_replies(
        session, settings, charge, conversation.channel, today, title=texts.CHARGE_TITLE_FIRST_INSTALMENT
    )
    return replies


@for_confirmed_debtor
def ja_paguei(session: Session, settings: Settings, turn: Turn, conversation: Conversation) -> list[Reply]:
    """Check the claim: thank for a confirmed payment, or record it, pause reminders and ask the receipt."""
    result = claims.claim_paid(session, conversation, _own_message(session, conversation, turn))
    if not result.invoices:
        if result.recently_paid:
            paid = result.recently_paid[0]
            when = texts.paid_on(as_utc(paid.paid_at) if paid.paid_at else None)
            return [Reply(texts.already_paid(texts.invoice_label(paid.description, paid.external_ref), when))]
        return [Reply(texts.NO_OPEN_INVOICES)]
    labels = ", ".join(texts.invoice_label(i.description, i.external_ref) for i in result.invoices)
    days = max(i.creditor.claim_pause_days for i in result.invoices)
    return [Reply(texts.payment_claim(labels, days, [c.id for c in result.cases], result.receipt_attached))]


@for_confirmed_debtor
def contestar_divida(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> list[Reply]:
    """Record a dispute, pause collection of the invoices and queue it for an agent."""
    result = claims.dispute(session, conversation, _own_message(session, conversation, turn))
    if not result.invoices:
        return [Reply(texts.NOTHING_TO_DISPUTE)]
    labels = ", ".join(texts.invoice_label(i.description, i.external_ref) for i in result.invoices)
    return [Reply(texts.dispute_recorded(labels, [c.id for c in result.cases]))]


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
    if not handoff.request(session, conversation, actor="bot", reason="asked"):
        return [Reply(texts.HANDOFF_ALREADY)]
    return [Reply(texts.handoff(handoff.when_agents_answer(settings)))]


def fallback(misses: int) -> list[Reply]:
    """Ask to rephrase after the first miss; offer a person from the second consecutive miss on."""
    return [Reply(texts.FALLBACK_REPHRASE if misses <= 1 else texts.FALLBACK_OFFER_HUMAN)]


def respond(
    handler: Handler,
    sender_id: str | None,
    metadata: Mapping[str, Any] | None,
    *,
    entities: Mapping[str, str] | None = None,
    text: str = "",
    settings: Settings | None = None,
) -> list[Reply]:
    """Run `handler` for Rasa's sender id and message metadata in its own transaction (what an action
    calls). The database is the process-wide one for the settings."""
    settings = settings or get_settings()
    turn = Turn.from_ids(sender_id, (metadata or {}).get("message_id"), entities, text)
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
