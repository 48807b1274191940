"""Outbound messages: saved first, then handed to the provider, retried or given up on.

The order is always the same: the message row is committed as `pending` before anything is sent, a
deliverer claims it with a conditional UPDATE (`pending` -> `sending`, so two workers never send the same
row), hands it to the channel, and records the provider's SID and status. A retryable failure puts the
row back to `pending` with `next_attempt_at`; a permanent one marks it `failed` with the provider's code
(and, for codes that mean the person unsubscribed or blocked us, opts the number out of the channel).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, object_session, selectinload

from bot import optout
from bot.channels import (
    AmbiguousSendError,
    OutboundRequest,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendResult,
)
from bot.channels.splitting import WHATSAPP_MAX_CHARS, split_text
from bot.channels.twiml import status_callback_url
from bot.config import Settings
from bot.db import Database
from bot.models import (
    Channel,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    OptOutAction,
    as_utc,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 10
# A reply `sending` this long without a SID: its sender died mid-send, its send was ambiguous, or it went
# back in a webhook's TwiML and no status callback came. The sweep then asks the provider (`look_up`).
STUCK_SENDING = timedelta(minutes=5)
# After an ambiguous send, the replies behind it wait until the sweep (every minute) has settled it.
AMBIGUOUS_WAIT = STUCK_SENDING + timedelta(minutes=2)
# Provider errors that mean the person does not want our messages on that channel any more.
OPT_OUT_ERROR_CODES = frozenset({21610, 63014})


@dataclass(frozen=True)
class Reply:
    """Something to tell the debtor: text and optional media (image URLs)."""

    text: str
    media_urls: list[str] = field(default_factory=list)


def backoff(attempt: int, *, cap_seconds: int = 60) -> timedelta:
    """Delay before retry number `attempt` (1-based): 5 s, 10 s, 20 s, 40 s, then every `cap_seconds`."""
    return timedelta(seconds=min(5 * 2 ** max(attempt - 1, 0), cap_seconds))


def _reply_rows(
    settings: Settings, conversation: Conversation, replies: list[Reply], in_reply_to_id: int | None
) -> list[dict[str, object]]:
    """The outbound message rows for `replies` (split for the channel), as column values.

    SMS carries no media in Brazil, so an image becomes a link at the end of the text.
    """
    rows: list[dict[str, object]] = []
    for reply in replies:
        text, media = reply.text.strip(), list(reply.media_urls)
        if conversation.channel == Channel.SMS:
            text = "\n".join([text, *media]).strip()
            media = []
            parts = split_text(text, settings.sms_part_max_chars)
        else:
            parts = split_text(text, WHATSAPP_MAX_CHARS) or ([""] if media else [])
        for index, part in enumerate(parts):
            rows.append(
                {
                    "conversation_id": conversation.id,
                    "direction": Direction.OUTBOUND,
                    "channel": conversation.channel,
                    "body": part,
                    "media": [{"url": url, "content_type": None} for url in media] if index == 0 else [],
                    "in_reply_to_id": in_reply_to_id,
                }
            )
    return rows


def queue_replies(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    replies: list[Reply],
    *,
    in_reply_to_id: int | None = None,
) -> list[Message]:
    """Save `replies` as pending outbound messages of `conversation` (split for the channel); return them."""
    rows = [
        Message(**row, status=MessageStatus.PENDING)  # type: ignore[arg-type]
        for row in _reply_rows(settings, conversation, replies, in_reply_to_id)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _pending_reply(reply: Any, conversation_id: str) -> Any:
    """One of a conversation's replies still `pending` (waiting to be handed over, or for a retry)."""
    return (
        select(reply.id)
        .where(
            reply.conversation_id == bindparam(conversation_id),
            reply.direction == Direction.OUTBOUND,
            reply.status == MessageStatus.PENDING,
        )
        .limit(1)
    )


# Statements of every turn, built once (see bot.conversation.leases on why).
_OLDER_PENDING = _pending_reply(Message, "conversation_id")
_INSERT_RETURNING_IDS = insert(Message).returning(Message.id, sort_by_parameter_order=True)
_UPDATE_BY_ID = update(Message)


def older_pending_reply() -> Any:
    """`_pending_reply` as a scalar subquery (its id, or NULL), for the RETURNING of a statement that runs
    just before `save_claimed_replies` (parameter `reply_conversation_id`)."""
    return _pending_reply(aliased(Message), "reply_conversation_id").scalar_subquery()


def save_claimed_replies(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    replies: list[Reply],
    *,
    in_reply_to_id: int | None = None,
    older_pending: bool | None = None,
) -> tuple[Claimed, datetime | None]:
    """`queue_replies` then `claim_conversation`, in the caller's transaction, in fewer statements.

    When none of the conversation's older replies is still pending (the usual case), the new ones are
    inserted already claimed (`sending`, first attempt) in one statement and their requests built from
    what was inserted; otherwise they are queued behind the older ones, and claimed in order.
    `older_pending` says which, when the caller already read it (`older_pending_reply`)."""
    if older_pending is None:
        older_pending = session.scalar(_OLDER_PENDING, {"conversation_id": conversation.id}) is not None
    if older_pending:
        queue_replies(session, settings, conversation, replies, in_reply_to_id=in_reply_to_id)
        return claim_conversation(session, settings, conversation.id)
    rows = _reply_rows(settings, conversation, replies, in_reply_to_id)
    if not rows:
        return [], None
    now = utcnow()
    claimed = [{**row, "status": MessageStatus.SENDING, "attempts": 1, "updated_at": now} for row in rows]
    ids = session.connection().execute(_INSERT_RETURNING_IDS, claimed).scalars().all()
    callback = _status_callback(settings)
    return [
        (message_id, _request(conversation, row["body"], row["media"], callback), 1)  # type: ignore[arg-type]
        for message_id, row in zip(ids, rows, strict=True)
    ], None


def _status_callback(settings: Settings) -> str | None:
    return None if settings.sandbox else status_callback_url(settings)


def _request(
    conversation: Conversation,
    body: str,
    media: list[dict[str, str | None]] | None,
    callback: str | None,
    content_sid: str | None = None,
    content_variables: dict[str, str] | None = None,
) -> OutboundRequest:
    return OutboundRequest(
        channel=conversation.channel,
        to=conversation.address,
        body=body,
        media_urls=[m["url"] for m in media or [] if m.get("url")],  # type: ignore[misc]
        from_=conversation.our_address,
        status_callback=callback,
        content_sid=content_sid,
        content_variables=content_variables,
    )


@dataclass(frozen=True)
class Delivery:
    """What happened to one delivery attempt."""

    message_id: int
    sent: bool
    retry_at: datetime | None = None  # set when the message went back to `pending` for a later try


Claimed = list[tuple[int, OutboundRequest, int]]  # (message id, request, attempts), in send order


def claim(database: Database, settings: Settings, message_ids: list[int]) -> Claimed:
    """Claim the pending, due messages among `message_ids` (`pending` → `sending`, one conditional UPDATE)
    and build their requests, in id order; committed before anything is sent."""
    with database.session() as session:
        return claim_in(session, settings, message_ids)


def claim_in(session: Session, settings: Settings, message_ids: list[int]) -> Claimed:
    """`claim` in the caller's transaction (which must commit before anything is sent)."""
    now = utcnow()
    claimed = set(
        session.scalars(
            update(Message)
            .where(
                Message.id.in_(message_ids),
                Message.status == MessageStatus.PENDING,
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .values(status=MessageStatus.SENDING, attempts=Message.attempts + 1, updated_at=now)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    messages = session.scalars(
        select(Message)
        .options(selectinload(Message.conversation))
        .where(Message.id.in_(claimed))
        .execution_options(populate_existing=True)  # the UPDATE above changed rows this session may hold
    ).all()
    callback = _status_callback(settings)
    return [
        (
            message.id,
            _request(
                message.conversation,
                message.body,
                message.media,
                callback,
                message.content_sid,
                message.content_variables,
            ),
            message.attempts,
        )
        for message in sorted(messages, key=lambda m: m.id)
    ]


def claim_conversation(
    session: Session, settings: Settings, conversation_id: int
) -> tuple[Claimed, datetime | None]:
    """Claim the conversation's pending outbound messages that are due, in order, in the caller's
    transaction: all of them up to the first that waits for a retry (the ones after it wait behind it).
    Returns them and, if one waits, its retry time."""
    rows = session.execute(
        select(Message.id, Message.next_attempt_at)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.OUTBOUND,
            Message.status == MessageStatus.PENDING,
        )
        .order_by(Message.id)
    ).all()
    now = utcnow()
    due: list[int] = []
    waits_until = None
    for row in rows:
        retry_at = as_utc(row.next_attempt_at)
        if retry_at is not None and retry_at > now:
            waits_until = retry_at
            break
        due.append(row.id)
    return (claim_in(session, settings, due) if due else []), waits_until


# What one hand-over to the provider gave: its SID and status, or the classified failure.
SendFailure = RetryableSendError | AmbiguousSendError | PermanentSendError
Outcome = SendResult | SendFailure


def attempt(sender: Sender, request: OutboundRequest) -> Outcome:
    """Hand one claimed message's request to the provider; a classified failure is returned, not raised.
    Touches no database, so many can run in threads while one transaction records them (`record`)."""
    try:
        return sender.send(request)
    except (RetryableSendError, AmbiguousSendError, PermanentSendError) as error:
        return error


def record(session: Session, outcomes: list[tuple[int, int, Outcome]]) -> dict[int, Delivery]:
    """Record the outcomes of claimed messages — (message id, attempts, outcome) — in `session`'s
    transaction: the SIDs of the sent ones in one statement, each failure retried later, left `sending`
    for a lookup (ambiguous), or given up.

    Until this commits, a sent message stays `sending` without a SID; whoever resumes it asks the provider
    first (`Sender.lookup`), so a crash in between never sends it twice."""
    now = utcnow()
    sent = [
        {
            "id": message_id,
            "provider_sid": outcome.sid,
            "status": outcome.status,
            "next_attempt_at": None,
            "sent_at": now if outcome.status in (MessageStatus.STORED, MessageStatus.SENT) else None,
            "updated_at": now,
        }
        for message_id, _, outcome in outcomes
        if isinstance(outcome, SendResult)
    ]
    if sent:
        session.execute(_UPDATE_BY_ID, sent)  # an executemany by primary key
    deliveries = {row["id"]: Delivery(row["id"], sent=True) for row in sent}
    for message_id, attempts, outcome in outcomes:
        if not isinstance(outcome, SendResult):
            deliveries[message_id] = _record_failure(session, message_id, attempts, outcome)
    return deliveries


@dataclass
class Sent:
    """What `send_claimed` did with a conversation's claimed messages, for `record_sent`."""

    outcomes: list[tuple[int, int, Outcome]]  # (message id, attempts, outcome), in send order
    left: list[int]  # claimed but not sent: after a retryable failure, or the deadline
    stopped_at: datetime | None = None  # when the deadline stopped the sequence


def send_claimed(sender: Sender, claimed: Claimed, *, deadline: float | None = None) -> Sent:
    """Send claimed messages of one conversation in order, touching no database; `record_sent` records
    the result. A retryable failure stops the sequence (the rest wait behind it, so a debtor never gets
    them out of order), and nothing is sent after `deadline` (a `time.monotonic()` value)."""
    sent = Sent([], [])
    for index, (message_id, request, attempts) in enumerate(claimed):
        if deadline is not None and time.monotonic() > deadline:
            sent.left, sent.stopped_at = [m for m, _, _ in claimed[index:]], utcnow()
            break
        outcome = attempt(sender, request)
        sent.outcomes.append((message_id, attempts, outcome))
        if isinstance(outcome, AmbiguousSendError) or (
            isinstance(outcome, RetryableSendError) and attempts < MAX_SEND_ATTEMPTS
        ):
            sent.left = [m for m, _, _ in claimed[index + 1 :]]
            break
    return sent


def record_sent(session: Session, sent: Sent) -> Delivery | None:
    """Record what `send_claimed` did, in the caller's transaction: the outcomes, and the messages left
    put back to `pending` with the retry time of the one that stopped the sequence (due now after the
    deadline). Returns that delivery (its `retry_at` says when to go on), or None."""
    deliveries = record(session, sent.outcomes)
    stop = next((d for d in deliveries.values() if d.retry_at is not None), None)
    if sent.stopped_at is not None:
        stop = Delivery(sent.left[0], sent=False, retry_at=sent.stopped_at)
    if stop is not None and sent.left:
        _put_back(session, sent.left, stop.retry_at)  # type: ignore[arg-type]
    return stop


def send_in_order(
    database: Database, sender: Sender, claimed: Claimed, *, deadline: float | None = None
) -> Delivery | None:
    """`send_claimed`, then `record_sent` in a transaction of its own; see both."""
    if not claimed:
        return None
    sent = send_claimed(sender, claimed, deadline=deadline)
    # A crash before this commits leaves the sent messages `sending` without a SID: the sweep asks the
    # provider after STUCK_SENDING (`look_up`) and sends again only what it does not have.
    with database.session() as session:
        return record_sent(session, sent)


def can_look_up(sender: Sender) -> bool:
    """True when the sender can say whether the provider already has a message (`Sender.lookup`)."""
    return callable(getattr(sender, "lookup", None))


def look_up(sender: Sender, message: Message) -> SendResult | None:
    """What the provider has for `message`, left `sending` without a SID (its sender stopped mid-send, or
    a reply handed over as TwiML whose callbacks never came): its SID and status, or None if it has no
    such message. Raises `RetryableSendError` when the provider cannot tell now."""
    request = _request(
        message.conversation, message.body, None, None, message.content_sid, message.content_variables
    )
    since = as_utc(message.updated_at) - timedelta(minutes=5)
    # Two replies with the same body: the provider's copy of the first must never be matched to the
    # second (recording one SID twice violates the unique index, and the second would never be sent).
    session = object_session(message)
    recorded: frozenset[str] = frozenset()
    if session is not None:
        recorded = frozenset(
            session.scalars(
                select(Message.provider_sid).where(
                    Message.conversation_id == message.conversation_id, Message.provider_sid.is_not(None)
                )
            )
        )
    return sender.lookup(request, since=since, exclude=recorded)  # type: ignore[attr-defined, operator]


def record_found(message: Message, found: SendResult) -> None:
    """Record on `message` what `look_up` found at the provider."""
    message.provider_sid, message.status = found.sid, found.status
    message.sent_at = message.sent_at or utcnow()
    message.next_attempt_at = None


def _put_back(session: Session, message_ids: list[int], retry_at: datetime) -> None:
    session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.PENDING, next_attempt_at=retry_at, attempts=Message.attempts - 1)
        .execution_options(synchronize_session=False)
    )


def _record_failure(session: Session, message_id: int, attempts: int, error: SendFailure) -> Delivery:
    message = session.get_one(Message, message_id)
    message.error_code = error.code
    message.error_message = str(error)[:500]
    if isinstance(error, AmbiguousSendError):
        # The provider may have it: never resend blindly. It stays `sending` without a SID; the sweep (or,
        # for a reminder, the dispatcher that reclaims its rows) asks the provider and sends again only if
        # it has no such message. What comes after it waits until then.
        message.updated_at = utcnow()
        log.warning("message %s: %s; outcome unknown, settled by lookup", message_id, error)
        return Delivery(message_id, sent=False, retry_at=utcnow() + AMBIGUOUS_WAIT)
    if isinstance(error, RetryableSendError) and attempts < MAX_SEND_ATTEMPTS:
        message.status = MessageStatus.PENDING
        message.next_attempt_at = utcnow() + backoff(attempts)
        log.warning("message %s: %s; retry %s at %s", message_id, error, attempts, message.next_attempt_at)
        return Delivery(message_id, sent=False, retry_at=message.next_attempt_at)
    message.status = MessageStatus.FAILED
    message.next_attempt_at = None
    log.warning("message %s failed for good: %s", message_id, error)
    if error.code in OPT_OUT_ERROR_CODES:
        optout.record_for_conversation(
            session, message.conversation, OptOutAction.OPT_OUT, source="provider_error"
        )
    return Delivery(message_id, sent=False)
