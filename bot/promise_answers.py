"""The answer to a promise to pay on a date (intent `prometer_pagamento`); the service is bot.promises."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from bot import agreements, answers, promise_dates, promises, texts
from bot.config import Settings
from bot.delivery.outgoing import Reply
from bot.localtime import DEFAULT_TZ
from bot.models import Conversation, utcnow
from bot.money import format_brl
from bot.payments import charges


def _today(turn: answers.Turn, conversation: Conversation) -> date:
    """Today in the debtor's time zone ("amanhã" said at 23h in Acre is still the debtor's tomorrow)."""
    if turn.today is not None:
        return turn.today
    zone = conversation.debtor.timezone if conversation.debtor is not None else DEFAULT_TZ
    return agreements.moment_to_date(utcnow(), zone)


@answers.for_confirmed_debtor
def prometer_pagamento(
    session: Session, settings: Settings, turn: answers.Turn, conversation: Conversation
) -> list[Reply]:
    """A promise to pay on a date: recorded within the creditor's policy, with the charge for that date
    and the reminders paused; a date beyond the policy gets the latest allowed date or an agreement."""
    today = _today(turn, conversation)
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
    assert result.promise is not None
    replies = [Reply(texts.promise_recorded(promised_on, format_brl(result.promise.amount_cents)))]
    provider = charges.provider_for(settings)
    for invoice in result.invoices[: answers.MAX_DETAILED_INVOICES]:
        charge = charges.for_invoice(invoice, promised_on, provider)
        replies += answers.charge_replies(
            session, settings, charge, conversation.channel, today, title=f"Para {promised_on:%d/%m}"
        )
    if len(result.invoices) > answers.MAX_DETAILED_INVOICES:
        replies.append(Reply(texts.more_charges(len(result.invoices) - answers.MAX_DETAILED_INVOICES)))
    return replies
