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
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from bot import agreements, answers, claims, health, optout, texts
from bot.config import Settings
from bot.conversation import abuse, complaints, entities, first_look, handoff, identity, inbound, leases
from bot.conversation.inbound import Stored
from bot.db import Database
from bot.delivery import outbound
from bot.delivery.outbound import Reply
from bot.models import (
    Conversation,
    ConversationState,
    Message,
    OptOutAction,
    Processing,
    as_utc,
    utcnow,
)
from bot.rasa_client import BotMessage, RasaUnavailable
from bot.runtime import Services

log = logging.getLogger(__name__)

# A message Rasa could not answer for this long goes to the agents instead.
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass
class _Step:
    """What the first look at a ready message decided (`_look`), inside the lease's transaction.

    Either the message is already answered (`claimed` replies to send, committed with the answer), or
    it needs Rasa: `rasa_text` for a turn, or, with `offer_nlu`, for the parser first, when it may
    answer a pending agreement offer and only the parser can tell. Rasa is called outside any
    transaction."""

    message_id: int
    claimed: outbound.Claimed
    waits_until: datetime | None = None
    rasa_text: str | None = None
    metadata: dict[str, object] | None = None
    offer_nlu: bool = False
    # For a Rasa turn: the conversation as the look saw it (detached once that transaction commits; its
    # columns stay loaded), to address the replies without reading it again.
    conversation: Conversation | None = None

    @property
    def needs_rasa(self) -> bool:
        """True when carrying the step out starts with a call to Rasa."""
        return self.rasa_text is not None


@dataclass
class Lease:
    """A claim on a conversation (see `claim`): who holds it and the next message, already looked at."""

    owner: str
    held: bool
    step: _Step | None = None
    busy: bool = False  # not held because another processor has the conversation
    stop: outbound.Delivery | None = None  # the delivery that stopped the previous message's sends


@dataclass
class _Done:
    """What carrying out a step left: replies saved and claimed but not sent yet, and when to come back."""

    claimed: outbound.Claimed = field(default_factory=list)
    waits_until: datetime | None = None  # an older reply waits for a retry; the new ones wait behind it
    retry_at: datetime | None = None  # the message itself must be tried again (Rasa unavailable)
    notice: bool = False  # an outage notice was queued for the debtor (`send_now` delivers it)
    # When the caller asked for it: the next look, done in the transaction that saved the answer.
    next_lease: Lease | None = None


@dataclass
class Inline:
    """What `answer_inline` left: whether a message may still be waiting for someone to answer it (the
    caller hands the conversation to a worker), and, when it was asked to hold them, the claimed replies
    to hand to Twilio in the webhook's own TwiML response."""

    left: bool
    replies: outbound.Claimed = field(default_factory=list)


# Twilio takes at most this many <Message> replies in one webhook response (warning 14109 beyond).
TWIML_MAX_REPLIES = 10


# Mark a pending message answered, returning whether one of the conversation's replies still waits to
# be handed over (`outbound.save_claimed_replies` needs to know: the new ones then wait behind it).
_MARK_ANSWERED = (
    update(Message)
    .where(Message.id == bindparam("message_id"), Message.processing == Processing.PENDING)
    .values(processing=Processing.DONE, processed_at=bindparam("now"), next_attempt_at=None)
    .returning(outbound.older_pending_reply())
    .execution_options(synchronize_session=False)
)


def has_ready_message(database: Database, conversation_id: int) -> bool:
    """True when the conversation has a pending message that may be handled now."""
    with database.session() as session:
        return first_look.ready_message(session, conversation_id, utcnow()) is not None


def claim(services: Services, session: Session, conversation_id: int) -> Lease:
    """Claim the conversation in the caller's transaction and look at its next ready message.

    The claim is a conditional UPDATE (free, or its lease expired), so one processor at a time works
    on a conversation. A message that needs no NLU (PARAR, an agent's conversation, the identity
    answer, ...) is answered right here, its replies saved and claimed for sending: the caller commits
    before anything is sent."""
    owner = leases.new_owner()
    now = utcnow()
    if not leases.claim(session, conversation_id, owner, now):
        return Lease(owner, held=False, busy=True)
    return _first_look(services, session, conversation_id, owner, now)


def store_and_claim(
    services: Services, session: Session, message: inbound.Inbound, owner: str
) -> tuple[Stored, Lease | None]:
    """Save a message the webhook received and claim its conversation for `owner` in the same statement
    that records the message on it, reading what the first look needs there too; then look at the
    conversation's next ready message (usually this one), in the caller's transaction. The lease is
    None for a duplicate."""
    stored = inbound.store(session, message, owner=owner)
    return stored, claim_stored(services, session, stored, owner)


def claim_stored(services: Services, session: Session, stored: Stored, owner: str) -> Lease | None:
    """`claim` for a message `inbound.store` just saved claiming the lease for `owner`, in the same
    transaction: the lease is already decided, so only the look is left. None for a duplicate."""
    conversation = stored.conversation
    held = conversation is not None and conversation.lease_owner == owner
    if stored.duplicate:
        if held:  # claimed for a message its twin saved first: nothing to answer here
            leases.release(session, stored.conversation_id, owner)
        return None
    if not held:
        return Lease(owner, held=False, busy=True)
    return _first_look(services, session, stored.conversation_id, owner, utcnow(), stored)


def _first_look(
    services: Services,
    session: Session,
    conversation_id: int,
    owner: str,
    now: datetime,
    stored: Stored | None = None,
) -> Lease:
    """Look at the conversation's next ready message, or let it go if none is ready; with `stored` (a
    message just saved and claimed), from what its statement read, without a query."""
    seen = stored.first_look if stored is not None else None
    if stored is not None and seen is not None:
        ready = seen.ready(stored.message_id, now)
    else:
        ready = first_look.ready_message(session, conversation_id, now)
    if ready is None:  # e.g. the message waits behind an older one's retry
        leases.release(session, conversation_id, owner)
        return Lease(owner, held=False)
    facts = seen.facts if stored is not None and seen is not None and ready == stored.message_id else None
    return Lease(owner, held=True, step=_look(services, session, ready, facts))


def _next(services: Services, session: Session, conversation_id: int, owner: str) -> Lease:
    """Release the held conversation if no message is ready, in one statement; else keep it and look at
    the next ready message. A message saved at the same moment is not stranded: its own webhook checks
    for a ready message after committing it (see `answer_inline`)."""
    now = utcnow()
    if first_look.release_if_idle(session, conversation_id, owner, now):
        return Lease(owner, held=False)
    ready = first_look.ready_message(session, conversation_id, now)
    if ready is None:  # the message that kept us was taken meanwhile (by an agent)
        leases.release(session, conversation_id, owner)
        return Lease(owner, held=False)
    return Lease(owner, held=True, step=_look(services, session, ready))


def process_conversation(services: Services, conversation_id: int, *, deadline: float | None = None) -> bool:
    """Answer the conversation's pending messages in order. True if it handled any.

    `deadline` (a `time.monotonic()` value) stops before starting a message, or sending a reply, after
    it: the webhook's inline mode uses it to stay inside Twilio's 15 seconds (see `answer_inline`).
    """
    return _process(services, conversation_id, deadline, None, hold=False)[0]


def answer_inline(
    services: Services,
    conversation_id: int,
    deadline: float,
    lease: Lease | None = None,
    *,
    hold: bool = False,
) -> Inline:
    """`process_conversation` within `deadline`, going on from `lease` (the webhook's `claim`) if given.

    With `hold`, the replies are not sent: they come back in `Inline.replies`, claimed (`sending`), for
    the webhook to return as TwiML, whose `<Message action=...>` status callbacks record their SIDs.
    They are sent through the API after all, in order, when the response cannot carry them: more than
    Twilio's 10, an outage notice to send first, or a message left for a worker (its replies must not
    overtake them)."""
    _, left, replies = _process(services, conversation_id, deadline, lease, hold=hold)
    return Inline(left, replies)


def _process(
    services: Services, conversation_id: int, deadline: float | None, lease: Lease | None, *, hold: bool
) -> tuple[bool, bool, outbound.Claimed]:
    """(handled any, maybe left one, held replies): see `process_conversation` and `answer_inline`.

    Sending, each message costs three short transactions on one connection: the look (with the claim,
    or with the previous message's sends recorded), the answer after Rasa (saved with its replies,
    claimed for sending), and the next look (recording this message's sends). Holding the replies for
    the response, the answer and the next look share one transaction: two per message."""
    database = services.database
    worked = False
    held: outbound.Claimed = []
    with database.one_connection():
        if lease is None:
            with database.session() as session:
                lease = claim(services, session, conversation_id)
        renewed = time.monotonic()
        while lease.held:
            step = lease.step
            assert step is not None  # a held lease always comes with the message it was claimed for
            if step.needs_rasa and deadline is not None and time.monotonic() > deadline:
                _let_go(database, conversation_id, lease.owner)
                lease = Lease(lease.owner, held=False, busy=True)
                break
            # (A message `_look` already answered is carried out even after the deadline: its replies,
            # claimed with the answer, go back to `pending` for a delivery job instead of being sent.)
            worked = True
            renew = time.monotonic() - renewed > leases.LEASE.total_seconds() / 2
            if renew:
                renewed = time.monotonic()
            try:
                done = _carry_out(services, conversation_id, step, lease.owner if hold else None, renew)
            except BaseException:
                _let_go(database, conversation_id, lease.owner)
                try:  # replies already claimed for earlier messages still go out
                    _send_held(services, conversation_id, held, deadline)
                except Exception:
                    log.exception(
                        "conversation %s: held replies not sent; the sweep settles them", conversation_id
                    )
                raise
            if hold and (done.notice or len(held) + len(done.claimed) > TWIML_MAX_REPLIES):
                hold = False  # from here on the replies go through the API, the held ones first
            sent = None
            if hold:
                held.extend(done.claimed)
            elif held or done.claimed:
                sent = outbound.send_claimed(services.sender, held + done.claimed, deadline=deadline)
                held = []
            stop = None
            if done.next_lease is not None and sent is None:
                lease = done.next_lease
            else:
                lease = _record_and_next(services, conversation_id, lease, done, sent, renew)
                stop = lease.stop
            if done.retry_at is not None:
                services.later.process(conversation_id, done.retry_at)
            if done.notice:
                send_now(services, conversation_id, deadline)
            _schedule_delivery(services, conversation_id, stop, done.waits_until)
    if held and lease.busy:
        # A message is left for a worker: its replies must not overtake these, so they go out now.
        _send_held(services, conversation_id, held, deadline)
        held = []
    return worked, lease.busy, held


def _record_and_next(
    services: Services,
    conversation_id: int,
    lease: Lease,
    done: _Done,
    sent: outbound.Sent | None,
    renew: bool,
) -> Lease:
    """Record the sends and go on: release the conversation (the message waits for a retry), take
    `done.next_lease`, or look at the next message; in one transaction. The returned lease carries the
    delivery that stopped the sends, if any."""
    owner = lease.owner
    try:
        with services.database.session() as session:
            stop = outbound.record_sent(session, sent) if sent is not None else None
            if done.next_lease is not None:
                following = done.next_lease
            elif done.retry_at is not None:
                # The message waits for its retry, and the ones after it wait behind it.
                leases.release(session, conversation_id, owner)
                following = Lease(owner, held=False)
            else:
                if renew:
                    leases.renew(session, conversation_id, owner, utcnow())
                following = _next(services, session, conversation_id, owner)
    except Exception:
        # Looking at the next message failed (a bug) and took the record of these sends with it:
        # record them on their own and let go; the next message stays pending for a retry.
        with services.database.session() as session:
            if sent is not None:
                outbound.record_sent(session, sent)
            leases.release(session, conversation_id, owner)
        raise
    following.stop = stop
    return following


def _send_held(
    services: Services, conversation_id: int, held: outbound.Claimed, deadline: float | None
) -> None:
    """Send replies held for a TwiML response through the API after all, in order (a delivery job
    takes what the deadline leaves)."""
    if held:
        stop = outbound.send_in_order(services.database, services.sender, held, deadline=deadline)
        _schedule_delivery(services, conversation_id, stop, None)


def _let_go(database: Database, conversation_id: int, owner: str) -> None:
    """Release the conversation before leaving early (deadline, error); a message still ready is left
    to whoever the caller hands the conversation to (or to the sweep)."""
    with database.session() as session:
        leases.release(session, conversation_id, owner)


def _look(
    services: Services, session: Session, message_id: int, facts: first_look.Facts | None = None
) -> _Step:
    """Decide what a ready message needs, in the lease's transaction: answer it now if no NLU is
    needed (its replies saved and claimed), else say what to ask Rasa. `facts`: what the webhook's
    statement already read for this message (else they are read here, when first needed)."""
    settings = services.settings
    message = session.get_one(Message, message_id)
    conversation = message.conversation
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
    elif _is_reply_loop(message, facts := facts or first_look.facts_for(session, message, utcnow())):
        outcome, message.processing_note = Processing.IGNORED, "reply_loop"
    elif message.body and (reason := complaints.reason_in(message.body)) is not None:
        # Legal threats and complaints go to a person before any NLU: never a dispute, never ignored.
        complaints.escalate(session, conversation, reason)
        replies = [Reply(texts.complaint_received(handoff.when_agents_answer(settings)))]
    elif (
        identity.awaiting_answer(settings, conversation)
        and (answer := identity.check_answer(settings, conversation, message.body))
        != identity.Answer.NOT_AN_ANSWER
    ):
        replies = _verification_replies(session, conversation, answer)
    elif not message.body.strip():
        if message.media and claims.attach_receipt(session, conversation, message):
            replies = [Reply(texts.RECEIPT_RECEIVED)]
        else:
            replies = [Reply(texts.MEDIA_RECEIVED if message.media else texts.NO_ANSWER)]
    elif facts.offer_pending and agreements.current_offer(session, conversation.id):
        # Read without NLU first ("2", "sim"); only if that fails is Rasa's parser needed.
        offer_replies = answers.answer_offer(session, settings, conversation, message)
        if offer_replies is None:
            return _Step(message.id, [], rasa_text=message.body, offer_nlu=True)
        replies = offer_replies
    else:
        return _rasa_step(conversation, message)
    claimed, waits_until = _finish(session, settings, conversation, message, outcome, replies)
    return _Step(message.id, claimed, waits_until)


def _is_reply_loop(message: Message, facts: first_look.Facts) -> bool:
    return abuse.looks_like_reply_loop(message.body, facts.same_text, facts.answered)


def _rasa_step(conversation: Conversation, message: Message) -> _Step:
    metadata: dict[str, object] = {
        "conversation_id": conversation.id,
        "message_id": message.id,
        "channel": conversation.channel.value,
        "debtor_id": conversation.debtor_id,
        "media": message.media or [],
    }
    return _Step(message.id, [], rasa_text=message.body, metadata=metadata, conversation=conversation)


def _carry_out(
    services: Services, conversation_id: int, step: _Step, next_owner: str | None, renew: bool
) -> _Done:
    """Do what `_look` decided, outside any transaction: ask Rasa if needed, then save the answer and its
    replies, claimed for sending, in one transaction; sending is the caller's. With `next_owner` (the
    lease's owner), that transaction also renews the lease if `renew` and takes the next look."""
    if step.offer_nlu:
        step = _answer_offer_with_nlu(services, step)
    if step.rasa_text is None:
        return _Done(step.claimed, step.waits_until)
    try:
        bot_messages = services.rasa.turn(str(conversation_id), step.rasa_text, step.metadata)
        if not bot_messages and not _assistant_healthy(services):
            # Rasa answers nothing when a custom action failed (action server down).
            raise RasaUnavailable("Rasa answered nothing and the assistant is not healthy")
    except RasaUnavailable as error:
        log.warning("conversation %s: %s", conversation_id, error)
        retry_at, notice = _postpone(services, step.message_id)
        return _Done(retry_at=retry_at, notice=notice)
    conversation = step.conversation
    assert conversation is not None  # a Rasa step carries its conversation
    replies = [_reply(m) for m in bot_messages] or [Reply(texts.NO_ANSWER)]
    with services.database.session() as session:
        older_pending = _mark_answered(session, step.message_id, conversation_id)
        if older_pending is None:  # an agent or a parallel run dealt with it
            return _Done()
        if conversation.outage_notice_at is not None:  # Rasa answers again: a new outage gets a notice
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(outage_notice_at=None)
                .execution_options(synchronize_session=False)
            )
        claimed, waits_until = outbound.save_claimed_replies(
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
            following = _next(services, session, conversation_id, next_owner)
    return _Done(claimed, waits_until, next_lease=following)


def _answer_offer_with_nlu(services: Services, step: _Step) -> _Step:
    """A message that may answer a pending agreement offer, read with Rasa's `/model/parse` (the
    `parcelas` entity, afirmar/negar); if it does not answer the offer, it goes on to a Rasa turn."""
    try:
        parsed: dict[str, Any] | None = services.rasa.parse(step.rasa_text or "")
    except RasaUnavailable:
        parsed = None
    with services.database.session() as session:
        message = session.get_one(Message, step.message_id)
        conversation = message.conversation
        if message.processing != Processing.PENDING:  # an agent or a parallel run dealt with it
            return _Step(message.id, [])
        if parsed is not None:
            parcelas = entities.first_value(message.body, parsed.get("entities") or [], "parcelas")
            intent = (parsed.get("intent") or {}).get("name")
            replies = answers.answer_offer(
                session, services.settings, conversation, message, parcelas, intent
            )
            if replies is not None:
                claimed, waits_until = _finish(
                    session, services.settings, conversation, message, Processing.DONE, replies
                )
                return _Step(message.id, claimed, waits_until)
        return _rasa_step(conversation, message)


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
    return outbound.save_claimed_replies(session, settings, conversation, replies, in_reply_to_id=message.id)


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
        message.next_attempt_at = now + outbound.backoff(message.attempts)
        notice = conversation.outage_notice_at is None
        if notice:
            conversation.outage_notice_at = now
            outbound.queue_replies(
                session,
                services.settings,
                conversation,
                [Reply(texts.OUTAGE_NOTICE)],
                in_reply_to_id=message.id,
            )
        return message.next_attempt_at, notice


def send_now(services: Services, conversation_id: int, deadline: float | None = None) -> None:
    """Deliver the conversation's pending replies now (those `deadline` leaves time for); schedule a
    delivery job for what must wait."""
    with services.database.session() as session:
        claimed, waits_until = outbound.claim_conversation(session, services.settings, conversation_id)
    stop = outbound.send_in_order(services.database, services.sender, claimed, deadline=deadline)
    _schedule_delivery(services, conversation_id, stop, waits_until)


def _schedule_delivery(
    services: Services, conversation_id: int, stop: outbound.Delivery | None, waits_until: datetime | None
) -> None:
    """Schedule a delivery job for replies that must wait: a retry (`stop`), a later reply waiting behind
    an older one, or one the deadline left (due at once)."""
    retry_at = stop.retry_at if stop is not None else waits_until
    if retry_at is not None:
        services.later.deliver(conversation_id, retry_at if retry_at > utcnow() else None)
