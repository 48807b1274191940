"""Answers that settle a debt: agreement offers (`renegociar`), the answer to a pending offer (a pick, a
yes or a no: `answer_offer`) and promises to pay on a date (`prometer_pagamento`).

The services are in `bot.agreements`; every sentence is in `bot.texts`.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session

from bot import localtime, texts
from bot.agreements import lifecycle, offers, pricing, promise_dates, promises
from bot.answers.debts import MAX_DETAILED_INVOICES, charge_replies, creditor_line
from bot.answers.turns import Turn, debtor_today, for_confirmed_debtor
from bot.config import Settings
from bot.conversation import identity
from bot.conversation.identity import Trust
from bot.delivery.outgoing import Reply
from bot.localtime import DEFAULT_TZ
from bot.models import Agreement, Conversation, Creditor, Message, OfferStatus, utcnow
from bot.money import format_brl
from bot.payments import charges


@for_confirmed_debtor
def renegociar(session: Session, settings: Settings, turn: Turn, conversation: Conversation) -> list[Reply]:
    """Offer two or three concrete agreement options within the creditor's policy: the instalment count
    the debtor asked for when allowed, else the nearest allowed with the reason; the same request again
    gets a short answer pointing at the options already sent."""
    assert conversation.debtor_id is not None
    today = debtor_today(turn, conversation)
    requested = _instalments(turn.entities.get("parcelas"))
    previous = offers.current_offer(session, conversation.id)
    previous_options = list(previous.options) if previous is not None else None
    made = offers.make_offer(session, conversation, today, requested)
    if made is None:
        return [Reply(texts.NOTHING_TO_NEGOTIATE)]
    offer, creditor = made
    options = offers.options_of(offer)
    policy = pricing.policy_for(session, creditor.id)
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
        nearest = pricing.nearest_count(debt, requested, policy, today)
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
    offer = offers.current_offer(session, conversation.id)
    if offer is None:
        return None
    if identity.trust(settings, conversation) != Trust.CONFIRMED:
        # The offer's terms are the debtor's: not for a number that is no longer confirmed as theirs.
        return None
    creditor = session.get_one(Creditor, offer.creditor_id)
    if offer.status == OfferStatus.OPEN:
        option = offers.pick(message.body, offers.options_of(offer), parcelas)
        if option is None:
            return None
        offers.choose(offer, option)
        return [Reply(texts.confirm_agreement(offers.terms(option, creditor)))]
    answer = offers.yes_or_no(message.body)
    if answer is None and intent in ("afirmar", "negar"):
        answer = intent == "afirmar"
    if answer is None:
        option = offers.pick(message.body, offers.options_of(offer), parcelas)
        if option is None:
            return None
        offers.choose(offer, option)  # changed their mind before confirming
        return [Reply(texts.confirm_agreement(offers.terms(option, creditor)))]
    if not answer:
        offers.decline(offer)
        return [Reply(texts.AGREEMENT_DECLINED)]
    agreement = lifecycle.accept(session, offer, actor=f"debtor:{offer.debtor_id}")
    return agreement_closed_replies(session, settings, conversation, agreement)


def agreement_closed_replies(
    session: Session, settings: Settings, conversation: Conversation, agreement: Agreement
) -> list[Reply]:
    """The agreement closed, with its terms, and the charge of its first instalment (what the debtor is
    told when they confirm in the chat, or when an agent registers their acceptance)."""
    first = agreement.instalments[0]
    today = localtime.local_date(
        utcnow(), conversation.debtor.timezone if conversation.debtor else DEFAULT_TZ
    )
    charge = charges.for_instalment(first, charges.provider_for(settings))
    replies = [Reply(texts.agreement_closed(agreement.id, agreement.terms or ""))]
    replies += charge_replies(
        session, settings, charge, conversation.channel, today, title=texts.CHARGE_TITLE_FIRST_INSTALMENT
    )
    return replies


@for_confirmed_debtor
def prometer_pagamento(
    session: Session, settings: Settings, turn: Turn, conversation: Conversation
) -> list[Reply]:
    """A promise to pay on a date: recorded within the creditor's policy, with the charge for that date
    and the reminders paused; a date beyond the policy gets the latest allowed date or an agreement."""
    today = debtor_today(turn, conversation)
    said = turn.entities.get("data") or ""
    promised_on = promise_dates.parse(said, today) or promise_dates.parse(turn.text, today)
    if promised_on is None:
        return [Reply(texts.PROMISE_ASK_DATE)]
    result = promises.promise(session, conversation, today, promised_on)
    if result is None:
        return [Reply(texts.NO_OPEN_INVOICES)]
    if result.in_the_past:
        return [Reply(texts.PROMISE_ASK_DATE)]
    if result.latest is not None:
        return [Reply(texts.promise_too_far(promised_on, result.latest))]
    return promise_replies(session, settings, conversation, result, today)


def promise_replies(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    result: promises.PromiseResult,
    today: date,
) -> list[Reply]:
    """A recorded promise confirmed to the debtor, with the charge of each invoice for the promised day
    (the bot's answer, and what an agent's card sends)."""
    assert result.promise is not None
    promised_on = result.promise.promised_on
    replies = [Reply(texts.promise_recorded(promised_on, format_brl(result.promise.amount_cents)))]
    provider = charges.provider_for(settings)
    for invoice in result.invoices[:MAX_DETAILED_INVOICES]:
        charge = charges.for_invoice(invoice, promised_on, provider)
        replies += charge_replies(
            session,
            settings,
            charge,
            conversation.channel,
            today,
            title=texts.PROMISE_CHARGE_TITLE.format(promised_on),
        )
    if len(result.invoices) > MAX_DETAILED_INVOICES:
        replies.append(Reply(texts.more_charges(len(result.invoices) - MAX_DETAILED_INVOICES)))
    return replies
