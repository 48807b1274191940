"""Answering a conversation: its pending inbound messages, one at a time and in order.

`process_conversation` is what the RQ worker runs after the webhook saved a message (and what the webhook
runs itself, within its time budget, when Redis is down). For each pending message, oldest first:

1. PARAR / VOLTAR and similar keywords: opt out or back in, one confirmation, no NLU.
2. Conversation with (or waiting for) an agent: the message is stored for the agent; the bot is silent.
3. Reply-loop guard: an automated sender repeating itself gets no more answers.
4. Answer to the identity question (first 3 CPF digits): checked here, not by the NLU.
5. A photo or PDF alone: attached to an open "já paguei" claim as the receipt, or acknowledged.
6. A reply to a pending agreement offer (an option number, "6x", "sim", "não"): bot.agreements.
7. Anything else goes to Rasa; its answers are saved and sent.

If Rasa (or the action server behind it) is down or slow, the debtor gets one short polite notice per
outage, the message stays pending with a retry time, and later messages wait behind it so the order is
kept; the retry answers it once Rasa is back.

Only one processor works on a conversation at a time: it claims the conversation with a conditional
UPDATE (a lease that expires by itself if the processor dies), so any number of workers is safe.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot import abuse, agreements, answers, claims, entities, health, identity, optout, outbound, texts
from bot.channels import Sender
from bot.config import Settings
from bot.db import Database
from bot.models import (
    Conversation,
    ConversationState,
    Direction,
    Message,
    OptOutAction,
    Processing,
    as_utc,
    utcnow,
)
from bot.outbound import Reply
from bot.rasa_client import BotMessage, RasaClient, RasaUnavailable

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
# A message Rasa could not answer for this long goes to the agents instead.
GIVE_UP_AFTER = timedelta(hours=24)


class Later(Protocol):
    """Schedules follow-up work (RQ jobs in production)."""

    def process(self, conversation_id: int, when: datetime | None = None) -> None:
        """Run `process_conversation` for the conversation (at `when`, or now)."""
        ...

    def deliver(self, conversation_id: int, when: datetime | None = None) -> None:
        """Run `deliver_conversation` for the conversation (at `when`, or now)."""
        ...


@dataclass
class Services:
    """What processing needs: settings, database, Rasa, the outbound channel and the scheduler."""

    settings: Settings
    database: Database
    rasa: RasaClient
    sender: Sender
    later: Later


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _renew(database: Database, conversation_id: int, owner: str) -> None:
    with database.session() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.lease_owner == owner)
            .values(lease_expires_at=utcnow() + LEASE)
            .execution_options(synchronize_session=False)
        )


def _ready_in(session: Session, conversation_id: int, now: datetime) -> int | None:
    """The oldest pending inbound message if it may be handled now (not waiting for a retry)."""
    row = session.execute(
        select(Message.id, Message.next_attempt_at)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.INBOUND,
            Message.processing == Processing.PENDING,
        )
        .order_by(Message.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    retry_at = as_utc(row.next_attempt_at)
    return row.id if retry_at is None or retry_at <= now else None


def has_ready_message(database: Database, conversation_id: int) -> bool:
    """True when the conversation has a pending message that may be handled now."""
    with database.session() as session:
        return _ready_in(session, conversation_id, utcnow()) is not None


def process_conversation(services: Services, conversation_id: int, *, deadline: float | None = None) -> bool:
    """Answer the conversation's pending messages in order. True if it handled any.

    `deadline` (a `time.monotonic()` value) stops before starting a message, or sending a reply, after
    it: the webhook's inline mode uses it to stay inside Twilio's 15 seconds (see `answer_inline`).
    """
    return _process(services, conversation_id, deadline)[0]


def answer_inline(services: Services, conversation_id: int, deadline: float) -> bool:
    """`process_conversation` within `deadline`; True when a message may still be waiting for someone to
    answer it (the deadline came first, or another process holds the conversation): the caller hands
    the conversation to a worker."""
    return _process(services, conversation_id, deadline)[1]


def _process(services: Services, conversation_id: int, deadline: float | None) -> tuple[bool, bool]:
    """(handled any, maybe left one): see `process_conversation` and `answer_inline`."""
    owner = _owner()
    worked = False
    while True:
        claimed, message_id = _claim_and_peek(services.database, conversation_id, owner)
        if not claimed:
            # Another request or worker holds the conversation; it may have finished before our message
            # was saved, so the caller checks for a ready one.
            return worked, True
        renewed = time.monotonic()
        held = True
        try:
            while message_id is not None:
                if deadline is not None and time.monotonic() > deadline:
                    return worked, True
                worked = True
                retry_at = _handle(services, conversation_id, message_id, deadline)
                if retry_at is not None:
                    services.later.process(conversation_id, retry_at)
                    break
                if time.monotonic() - renewed > LEASE.total_seconds() / 2:
                    _renew(services.database, conversation_id, owner)
                    renewed = time.monotonic()
                message_id, held = _next_or_release(services.database, conversation_id, owner)
                if not held:
                    break
        finally:
            if held:
                more = _release_and_peek(services.database, conversation_id, owner)
            else:
                more = message_id is not None
        # A message saved while we were releasing found the conversation claimed and left it to us.
        if not more:
            return worked, False


def _claim_and_peek(database: Database, conversation_id: int, owner: str) -> tuple[bool, int | None]:
    """Claim the conversation and find its next ready message, in one transaction."""
    now = utcnow()
    with database.session() as session:
        claimed = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                or_(Conversation.lease_owner.is_(None), Conversation.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        return bool(claimed), _ready_in(session, conversation_id, now) if claimed else None


def _next_or_release(database: Database, conversation_id: int, owner: str) -> tuple[int | None, bool]:
    """The next ready message, keeping the conversation; or, when there is none, release it and peek once
    more (a message saved meanwhile found the conversation claimed and left it to us). One transaction;
    returns (message id or None, still held)."""
    now = utcnow()
    with database.session() as session:
        ready = _ready_in(session, conversation_id, now)
        if ready is not None:
            return ready, True
        _release(session, conversation_id, owner)
        return _ready_in(session, conversation_id, now), False


def _release(session: Session, conversation_id: int, owner: str) -> None:
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def _release_and_peek(database: Database, conversation_id: int, owner: str) -> bool:
    """Release the conversation; True when a message is ready (someone must process it)."""
    with database.session() as session:
        _release(session, conversation_id, owner)
        return _ready_in(session, conversation_id, utcnow()) is not None


def _handle(
    services: Services, conversation_id: int, message_id: int, deadline: float | None = None
) -> datetime | None:
    """Handle one pending message; returns a retry time when it must be tried again later. Replies are
    sent before `deadline` (monotonic), else by a delivery job."""
    settings = services.settings
    rasa_text: str | None = None
    with services.database.session() as session:
        message = session.get_one(Message, message_id)
        conversation = message.conversation
        if message.processing != Processing.PENDING:
            return None
        replies: list[Reply] = []
        outcome = Processing.DONE
        keyword = optout.keyword_action(message.body) if message.body else None
        if keyword is not None:
            optout.record_for_conversation(
                session, conversation, keyword, source="keyword", message_id=message.id
            )
            confirm = texts.opt_out_confirmed if keyword == OptOutAction.OPT_OUT else texts.opt_in_confirmed
            replies = [Reply(confirm(conversation.channel))]
        elif conversation.state != ConversationState.BOT:
            outcome = Processing.FOR_AGENT
        elif abuse.looks_like_reply_loop(session, conversation, message):
            outcome, message.processing_note = Processing.IGNORED, "reply_loop"
        elif (
            identity.awaiting_answer(settings, conversation)
            and (answer := identity.check_answer(conversation, message.body)) != identity.Answer.NOT_AN_ANSWER
        ):
            replies = _verification_replies(session, conversation, answer)
        elif not message.body.strip():
            if message.media and claims.attach_receipt(session, conversation, message):
                replies = [Reply(texts.RECEIPT_RECEIVED)]
            else:
                replies = [Reply(texts.MEDIA_RECEIVED if message.media else texts.NO_ANSWER)]
        elif (offer_replies := _offer_replies(services, session, conversation, message)) is not None:
            replies = offer_replies
        else:
            rasa_text = message.body
            metadata = {
                "conversation_id": conversation.id,
                "message_id": message.id,
                "channel": conversation.channel.value,
                "debtor_id": conversation.debtor_id,
                "media": message.media or [],
            }
        if rasa_text is None:
            claimed, waits_until = _finish(session, settings, conversation, message, outcome, replies)
    if rasa_text is None:
        _send_replies(services, conversation_id, claimed, waits_until, deadline)
        return None

    try:
        bot_messages = services.rasa.turn(str(conversation_id), rasa_text, metadata)
        if not bot_messages and not _assistant_healthy(services):
            # Rasa answers nothing when a custom action failed (action server down).
            raise RasaUnavailable("Rasa answered nothing and the assistant is not healthy")
    except RasaUnavailable as error:
        log.warning("conversation %s: %s", conversation_id, error)
        return _postpone(services, conversation_id, message_id, deadline)

    with services.database.session() as session:
        message = session.get_one(Message, message_id)
        conversation = message.conversation
        if message.processing != Processing.PENDING:  # an agent or a parallel run dealt with it
            return None
        replies = [_reply(m) for m in bot_messages] or [Reply(texts.NO_ANSWER)]
        conversation.outage_notice_at = None
        claimed, waits_until = _finish(session, settings, conversation, message, Processing.DONE, replies)
    _send_replies(services, conversation_id, claimed, waits_until, deadline)
    return None


def _verification_replies(
    session: Session, conversation: Conversation, answer: identity.Answer
) -> list[Reply]:
    if answer == identity.Answer.CORRECT:
        assert conversation.debtor is not None
        replies = [Reply(texts.verify_ok(conversation.debtor.first_name))]
        # The message that made us ask is answered now, in its place in the conversation.
        held = session.get(Message, conversation.held_message_id) if conversation.held_message_id else None
        if held is not None and held.conversation_id == conversation.id:
            held.processing = Processing.PENDING
            held.next_attempt_at = None
        conversation.held_message_id = None
        return replies
    if answer == identity.Answer.LOCKED:
        return [Reply(texts.VERIFY_LOCKED)]
    return [Reply(texts.VERIFY_WRONG)]


def _offer_replies(
    services: Services, session: Session, conversation: Conversation, message: Message
) -> list[Reply] | None:
    """The answer when the message responds to a pending agreement offer (see bot.agreements): first
    read without NLU ("2", "sim"), then with Rasa's `/model/parse` (the `parcelas` entity, afirmar/negar)."""
    if agreements.current_offer(session, conversation.id) is None:
        return None
    replies = answers.answer_offer(session, services.settings, conversation, message)
    if replies is not None:
        return replies
    try:
        parsed = services.rasa.parse(message.body)
    except RasaUnavailable:
        return None
    parcelas = entities.first_value(message.body, parsed.get("entities") or [], "parcelas")
    intent = (parsed.get("intent") or {}).get("name")
    return answers.answer_offer(session, services.settings, conversation, message, parcelas, intent)


def _reply(message: BotMessage) -> Reply:
    return Reply(message.rendered_text(), [message.image] if message.image else [])


def _finish(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    message: Message,
    outcome: Processing,
    replies: list[Reply],
) -> tuple[outbound.Claimed, datetime | None]:
    """Mark the message handled and save its replies, claimed for sending in the same transaction (one
    commit instead of three); returns the claimed replies and, if an older reply waits for a retry, its
    retry time (the new ones wait behind it)."""
    message.processing = outcome
    message.processed_at = utcnow()
    message.next_attempt_at = None
    if not replies:
        return [], None
    outbound.queue_replies(session, settings, conversation, replies, in_reply_to_id=message.id)
    return outbound.claim_conversation(session, settings, conversation.id)


def _assistant_healthy(services: Services) -> bool:
    return services.rasa.healthy() and health.check_action_server(services.settings.action_server_url).ok


def _postpone(
    services: Services, conversation_id: int, message_id: int, deadline: float | None = None
) -> datetime | None:
    """Rasa could not answer: tell the debtor once per outage, and try the message again later."""
    now = utcnow()
    with services.database.session() as session:
        message = session.get_one(Message, message_id)
        conversation = message.conversation
        message.attempts += 1
        if now - as_utc(message.created_at) > GIVE_UP_AFTER:  # type: ignore[operator]
            message.processing, message.processing_note = Processing.FOR_AGENT, "assistant_unavailable"
            message.processed_at = now
            return None
        message.next_attempt_at = now + outbound.backoff(message.attempts)
        if conversation.outage_notice_at is None:
            conversation.outage_notice_at = now
            outbound.queue_replies(
                session,
                services.settings,
                conversation,
                [Reply(texts.OUTAGE_NOTICE)],
                in_reply_to_id=message.id,
            )
            notice = True
        else:
            notice = False
        retry_at = message.next_attempt_at
    if notice:
        send_now(services, conversation_id, deadline)
    return retry_at


def send_now(services: Services, conversation_id: int, deadline: float | None = None) -> None:
    """Deliver the conversation's pending replies now (those `deadline` leaves time for); schedule a
    delivery job for what must wait."""
    with services.database.session() as session:
        claimed, waits_until = outbound.claim_conversation(session, services.settings, conversation_id)
    _send_replies(services, conversation_id, claimed, waits_until, deadline)


def _send_replies(
    services: Services,
    conversation_id: int,
    claimed: outbound.Claimed,
    waits_until: datetime | None,
    deadline: float | None,
) -> None:
    """Send replies claimed (and committed) by the caller, in order; schedule a delivery job for what must
    wait (a retry, a later reply waiting behind one, or the deadline: at once)."""
    stopped = outbound.send_in_order(services.database, services.sender, claimed, deadline=deadline)
    retry_at = stopped.retry_at if stopped is not None else waits_until
    if retry_at is not None:
        services.later.deliver(conversation_id, retry_at if retry_at > utcnow() else None)
