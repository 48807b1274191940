"""What a scope's contacts cost: SMS segments and WhatsApp conversations, at the configured prices.

Counted per message, not per contact: one combined message for three invoices is paid once. A WhatsApp
conversation is estimated as Meta bills a business-initiated one: a reminder opens one unless another
WhatsApp reminder went to the same conversation in the 24 hours before it (docs/metrics.md, "Cost").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Subquery, case, func, select
from sqlalchemy.orm import Session, aliased

from bot.analytics.contacts import is_contact
from bot.analytics.results import Costs
from bot.analytics.scope import Prices
from bot.analytics.sql import before, count_where
from bot.models import Channel, Message, OutboxEntry
from bot.reminders.sms import estimate_cost

WHATSAPP_CONVERSATION_SECONDS = 24 * 3600


def _opens_conversation(message_conversation_id: Any, sent_at: Any) -> ColumnElement[bool]:
    """No WhatsApp reminder went to this conversation in the 24 hours before `sent_at`."""
    earlier_entry = aliased(OutboxEntry)
    earlier_message = aliased(Message)
    return ~(
        select(earlier_entry.id)
        .join(earlier_message, earlier_message.id == earlier_entry.message_id)
        .where(
            is_contact(earlier_entry),
            earlier_message.conversation_id == message_conversation_id,
            earlier_message.channel == Channel.WHATSAPP,
            before(earlier_entry.sent_at, sent_at, WHATSAPP_CONVERSATION_SECONDS),
        )
        .exists()
    )


def costs(session: Session, c: Subquery, prices: Prices) -> Costs:
    """The segments, conversations and their prices of the messages that carried the contacts in `c`."""
    messages = (
        select(
            Message.id,
            Message.channel,
            Message.segments,
            Message.conversation_id,
            func.min(c.c.sent_at).label("sent_at"),
        )
        .join(c, c.c.message_id == Message.id)
        .group_by(Message.id, Message.channel, Message.segments, Message.conversation_id)
        .subquery()
    )
    is_sms = messages.c.channel == Channel.SMS
    # A message saved before segments were recorded is billed as one segment (the usual reminder).
    segments = func.coalesce(func.sum(case((is_sms, func.coalesce(messages.c.segments, 1)), else_=0)), 0)
    conversations = count_where(
        (messages.c.channel == Channel.WHATSAPP)
        & _opens_conversation(messages.c.conversation_id, messages.c.sent_at)
    )
    row = session.execute(select(segments, conversations).select_from(messages)).one()
    sms_segments, whatsapp_conversations = int(row[0]), int(row[1])
    whatsapp_cents = (prices.whatsapp_per_conversation * whatsapp_conversations * 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return Costs(
        sms_segments=sms_segments,
        whatsapp_conversations=whatsapp_conversations,
        sms_cents=estimate_cost(sms_segments, prices.sms_per_segment),
        whatsapp_cents=int(whatsapp_cents),
    )
