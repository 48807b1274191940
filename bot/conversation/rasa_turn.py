"""Carrying out what the look decided (`carry_out`), outside any transaction: the Rasa turn, then the
answer saved with its replies (claimed for sending) and the model's prediction (`bot.nlu_ops.recording`)
in one transaction; and the Rasa-outage policy.

If Rasa (or the action server behind it) is down or slow, the debtor gets one short polite notice per
outage, the message stays pending with a retry time, and later messages wait behind it so the order is
kept; the retry answers it once Rasa is back. A message Rasa could not answer for `GIVE_UP_AFTER` goes to
the agents instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from bot import health, texts
from bot.conversation import claiming, decide, leases
from bot.conversation.claiming import Lease
from bot.delivery import outgoing, sending
from bot.delivery.outgoing import Outgoing, Reply
from bot.models import Conversation, Message, Processing, as_utc, utcnow
from bot.nlu_ops import recording
from bot.rasa.client import BotMessage, RasaUnavailable
from bot.runtime import Services

log = logging.getLogger(__name__)


# A message Rasa could not answer for this long goes to the agents instead.
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass
class Done:
    """What carrying out a step left: replies saved and claimed but not sent yet, and when to come back."""

    claimed: list[Outgoing] = field(default_factory=list)
    waits_until: datetime | None = None  # an older reply waits for a retry; the new ones wait behind it
    retry_at: datetime | None = None  # the message itself must be tried again (Rasa unavailable)
    notice: bool = False  # an outage notice was queued for the debtor (`send_now` delivers it)
    # When the caller asked for it: the next look, done in the transaction that saved the answer.
    next_lease: Lease | None = None


# Mark a pending message answered, returning whether one of the conversation's replies still waits to
# be handed over (`outgoing.save_and_claim` needs to know: the new ones then wait behind it).
_MARK_ANSWERED = (
    update(Message)
    .where(Message.id == bindparam("message_id"), Message.processing == Processing.PENDING)
    .values(processing=Processing.DONE, processed_at=bindparam("now"), next_attempt_at=None)
    .returning(outgoing.older_pending_reply())
    .execution_options(synchronize_session=False)
)


def carry_out(
    services: Services, conversation_id: int, step: decide.Step, next_owner: str | None, renew: bool
) -> Done:
    """Do what `decide.look` decided, outside any transaction: ask Rasa if needed, then save the answer
    and its replies, claimed for sending, in one transaction; sending is the caller's. With `next_owner`
    (the lease's owner), that transaction also renews the lease if `renew` and takes the next look."""
    if step.offer_nlu:
        step = decide.answer_offer_with_nlu(services, step)
    if step.rasa_text is None:
        return Done(step.claimed, step.waits_until)
    try:
        answer = services.rasa.turn(str(conversation_id), step.rasa_text, step.metadata)
        bot_messages = answer.messages
        if not bot_messages and not _assistant_healthy(services):
            # Rasa answers nothing when a custom action failed (action server down).
            raise RasaUnavailable("Rasa answered nothing and the assistant is not healthy")
    except RasaUnavailable as error:
        log.warning("conversation %s: %s", conversation_id, error)
        retry_at, notice = _postpone(services, step.message_id)
        return Done(retry_at=retry_at, notice=notice)
    conversation = step.conversation
    assert conversation is not None  # a Rasa step carries its conversation
    replies = [_reply(m) for m in bot_messages] or [Reply(texts.NO_ANSWER)]
    with services.database.session() as session:
        older_pending = _mark_answered(session, step.message_id, conversation_id)
        if older_pending is None:  # an agent or a parallel run dealt with it
            return Done()
        recording.record(session, step.message_id, answer.prediction)
        if conversation.outage_notice_at is not None:  # Rasa answers again: a new outage gets a notice
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(outage_notice_at=None)
                .execution_options(synchronize_session=False)
            )
        claimed, waits_until = outgoing.save_and_claim(
            session,
            services.settings,
            conversation,
            replies,
            in_reply_to_id=step.message_id,
            older_pending=older_pending,
        )
        following = None
        if next_owner is not None:
            if renew:
                leases.renew(session, conversation_id, next_owner, utcnow())
            following = claiming.next_lease(services, session, conversation_id, next_owner)
    return Done(claimed, waits_until, next_lease=following)


def _reply(message: BotMessage) -> Reply:
    return Reply(message.rendered_text(), [message.image] if message.image else [])


def _mark_answered(session: Session, message_id: int, conversation_id: int) -> bool | None:
    """Mark a pending message done in one conditional UPDATE; None if it is no longer pending, else
    whether one of the conversation's replies still waits to be handed over."""
    params = {"message_id": message_id, "reply_conversation_id": conversation_id, "now": utcnow()}
    row = session.connection().execute(_MARK_ANSWERED, params).first()
    return None if row is None else row[0] is not None


def _assistant_healthy(services: Services) -> bool:
    settings = services.settings
    # With the token: an action server refusing it (a mismatched ACTION_SERVER_TOKEN) counts as down.
    actions = health.check_action_server(settings.action_server_url, token=settings.action_server_token)
    return services.rasa.healthy() and actions.ok


def _postpone(services: Services, message_id: int) -> tuple[datetime | None, bool]:
    """Rasa could not answer: schedule the message's retry and, once per outage, queue a short notice for
    the debtor (the caller sends it). Returns (retry time, None after 24 hours; whether a notice was
    queued)."""
    now = utcnow()
    with services.database.session() as session:
        message = session.get_one(Message, message_id)
        conversation = message.conversation
        message.attempts += 1
        if now - as_utc(message.created_at) > GIVE_UP_AFTER:  # type: ignore[operator]
            message.processing, message.processing_note = Processing.FOR_AGENT, "assistant_unavailable"
            message.processed_at = now
            return None, False
        message.next_attempt_at = now + sending.backoff(message.attempts)
        notice = conversation.outage_notice_at is None
        if notice:
            conversation.outage_notice_at = now
            outgoing.save_replies(
                session,
                services.settings,
                conversation,
                [Reply(texts.OUTAGE_NOTICE)],
                in_reply_to_id=message.id,
            )
        return message.next_attempt_at, notice
