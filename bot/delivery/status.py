"""Twilio status callbacks: a message's delivery status only ever moves forward.

Twilio may deliver callbacks out of order (a `sent` after a `delivered`); ranking the statuses and
applying only a higher rank keeps the final state right. Failures carrying a code that means the person
unsubscribed (21610) or blocked us on WhatsApp (63014) opt the number out of that channel.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import optout
from bot.delivery.sending import OPT_OUT_ERROR_CODES
from bot.models import Direction, Message, MessageStatus, OptOutAction, utcnow
from bot.observability.instruments import count_failure, instruments

log = logging.getLogger(__name__)

RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.ACCEPTED: 1,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.STORED: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.READ: 5,
}


def apply(
    session: Session,
    sid: str,
    status: str,
    error_code: str | int | None = None,
    *,
    reply_id: int | None = None,
) -> bool:
    """Apply a status callback to the message with provider SID `sid`. False if no such message.

    `reply_id` names the row of a reply handed over as TwiML (its callback URL carries it): Twilio gave
    it its SID when it read the response, and the first callback records it. Unknown status names
    (Twilio's `scheduled`, `canceled`, ...) are ignored.
    """
    message = _reply(session, reply_id, sid) if reply_id is not None else None
    if message is None:
        message = session.scalar(select(Message).where(Message.provider_sid == sid))
    if message is None:
        return False
    try:
        new = MessageStatus(status.lower())
    except ValueError:
        log.info("message %s: status %r ignored", message.id, status)
        return True
    if new not in RANK:
        return True
    now = utcnow()
    if new == MessageStatus.SENT:
        message.sent_at = message.sent_at or now
    elif new == MessageStatus.DELIVERED:
        message.delivered_at = message.delivered_at or now
    elif new == MessageStatus.READ:
        message.delivered_at = message.delivered_at or now
        message.read_at = message.read_at or now
    if RANK[new] <= RANK.get(message.status, 0):
        return True  # late or repeated callback: never move backwards
    message.status = new
    instruments().delivery_updates.labels(str(message.channel), new.value).inc()
    if new in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        code = _int(error_code)
        message.error_code = code
        count_failure(str(message.channel), code)
        if code in OPT_OUT_ERROR_CODES:
            optout.record_for_conversation(
                session, message.conversation, OptOutAction.OPT_OUT, source="provider_error"
            )
        from bot.reminders.dispatch import on_delivery_failure  # reminders sit above this module

        on_delivery_failure(session, message)  # a reminder that failed falls back to its next channel
    return True


def _reply(session: Session, reply_id: int, sid: str) -> Message | None:
    """The outbound row `reply_id` if it is the message `sid`: recorded with that SID, or with none yet
    (then it gets it: Twilio gave it when it read the TwiML response)."""
    message = session.get(Message, reply_id)
    if message is None or message.direction != Direction.OUTBOUND:
        return None
    if message.provider_sid is None:
        message.provider_sid = sid
    return message if message.provider_sid == sid else None


def _int(value: str | int | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
