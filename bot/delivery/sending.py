"""The one delivery path: claimed messages handed to the provider, the outcome classified and recorded.

Every sender (bot replies, reminders, payment thank-yous, agents' answers) saves its message rows first
and claims them (bot.delivery.outgoing); `deliver` then hands them to the provider and records what
happened, in a transaction of its own:

* sent: the provider's SID and status are recorded;
* retryable (no connection made, 429): the message goes back to `pending` with a retry time, up to
  `MAX_SEND_ATTEMPTS`;
* ambiguous (a timeout or a 5xx after the request went out): the provider may have it, so it is never
  resent blindly: it stays `sending` without a SID and is settled by asking the provider
  (bot.delivery.lookup), by the sweep or by the dispatcher that reclaims a reminder's rows;
* permanent: `failed` with the provider's code (codes that mean the person unsubscribed or blocked us
  opt the number out of the channel).

A conversation's replies go one at a time, in order: a retryable or ambiguous failure stops the sequence
and the rest wait behind it. Independent messages (one reminder per debtor) go at once in threads
(`Parallel`). The conversation engine, which records its sends in the transaction of its next step,
calls `deliver`'s two halves itself: `send` (no database) and `record` (in the caller's transaction).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import optout
from bot.channels import (
    AmbiguousSendError,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendResult,
)
from bot.db import Database
from bot.delivery.outgoing import Outgoing
from bot.models import Message, MessageStatus, OptOutAction, utcnow
from bot.observability.instruments import count_failure, instruments

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 10
# A reply `sending` this long without a SID: its sender died mid-send, its send was ambiguous, or it went
# back in a webhook's TwiML and no status callback came. The sweep then asks the provider (`look_up`).
STUCK_SENDING = timedelta(minutes=5)
# After an ambiguous send, the replies behind it wait until the sweep (every minute) has settled it.
AMBIGUOUS_WAIT = STUCK_SENDING + timedelta(minutes=2)
# Provider errors that mean the person does not want our messages on that channel any more.
OPT_OUT_ERROR_CODES = frozenset({21610, 63014})

SendFailure = RetryableSendError | AmbiguousSendError | PermanentSendError


def backoff(attempt: int, *, cap_seconds: int = 60) -> timedelta:
    """Delay before retry number `attempt` (1-based): 5 s, 10 s, 20 s, 40 s, then every `cap_seconds`."""
    return timedelta(seconds=min(5 * 2 ** max(attempt - 1, 0), cap_seconds))


@dataclass(frozen=True)
class Outcome:
    """What handing one outgoing message to the provider gave: its SID and status, or the classified
    failure."""

    outgoing: Outgoing
    result: SendResult | None = None
    failure: SendFailure | None = None


@dataclass(frozen=True)
class Delivery:
    """What was recorded for one message."""

    message_id: int
    sent: bool
    retry_at: datetime | None = None  # set when the message went back to `pending` for a later try


@dataclass
class Sent:
    """What `send` did with a conversation's claimed messages, for `record`."""

    outcomes: list[Outcome] = field(default_factory=list)  # in send order
    left: list[Outgoing] = field(default_factory=list)  # claimed, not sent: behind a failure, or the deadline
    stopped_at: datetime | None = None  # when the deadline stopped the sequence


@dataclass(frozen=True)
class Parallel:
    """How `deliver` hands independent messages (one per debtor) to the provider: `threads` at once.

    `before_send(outgoing)` runs in the sending thread right before each hand-over (a rate limit, a
    lease check): False skips the message, which is no longer this sender's (nothing is recorded for it).
    The outcomes are recorded every `record_every` seconds, one transaction for those that finished
    meanwhile, with `after_record(session, deliveries)` in it (the sender settles its own rows);
    `while_waiting()` runs once per such round while sends are still under way (a lease heartbeat)."""

    threads: int
    before_send: Callable[[Outgoing], bool] = lambda _: True
    after_record: Callable[[Session, dict[int, Delivery]], None] = lambda _session, _deliveries: None
    while_waiting: Callable[[], None] = lambda: None
    record_every: float = 0.1


def _attempt(sender: Sender, outgoing: Outgoing) -> Outcome:
    """Hand one claimed message to the provider; a classified failure is returned, not raised. Touches
    no database."""
    try:
        return Outcome(outgoing, result=sender.send(outgoing.request))
    except (RetryableSendError, AmbiguousSendError, PermanentSendError) as error:
        return Outcome(outgoing, failure=error)


def deliver(
    database: Database,
    sender: Sender,
    outgoing: Sequence[Outgoing],
    *,
    deadline: float | None = None,
    parallel: Parallel | None = None,
) -> Delivery | None:
    """Hand claimed messages to the provider and record what happened, in a transaction of its own.

    Without `parallel`: one conversation's messages, in order (see `send`); returns the delivery that
    stopped the sequence (its `retry_at` says when to go on), or None. With it: independent messages,
    sent at once (see `Parallel`); returns None. A crash before the record commits leaves the sent
    messages `sending` without a SID: they are settled by look-up, never sent twice."""
    if not outgoing:
        return None
    if parallel is not None:
        _deliver_parallel(database, sender, outgoing, parallel)
        return None
    sent = send(sender, outgoing, deadline=deadline)
    with database.session() as session:
        return record(session, sent)


def send(sender: Sender, outgoing: Sequence[Outgoing], *, deadline: float | None = None) -> Sent:
    """`deliver`'s first half: send one conversation's claimed messages in order, touching no database.
    A retryable or ambiguous failure stops the sequence (the rest wait behind it, so a debtor never gets
    them out of order), and nothing is sent after `deadline` (a `time.monotonic()` value)."""
    sent = Sent()
    for index, item in enumerate(outgoing):
        if deadline is not None and time.monotonic() > deadline:
            sent.left, sent.stopped_at = list(outgoing[index:]), utcnow()
            break
        outcome = _attempt(sender, item)
        sent.outcomes.append(outcome)
        failure = outcome.failure
        if isinstance(failure, AmbiguousSendError) or (
            isinstance(failure, RetryableSendError) and item.attempt < MAX_SEND_ATTEMPTS
        ):
            sent.left = list(outgoing[index + 1 :])
            break
    return sent


def record(session: Session, sent: Sent) -> Delivery | None:
    """`deliver`'s second half, in the caller's transaction: record the outcomes, and put the messages
    left back to `pending` with the retry time of the one that stopped the sequence (due now after the
    deadline). Returns that delivery, or None."""
    deliveries = _record_outcomes(session, sent.outcomes)
    stop = next((d for d in deliveries.values() if d.retry_at is not None), None)
    if sent.stopped_at is not None:
        stop = Delivery(sent.left[0].message_id, sent=False, retry_at=sent.stopped_at)
    if stop is not None and sent.left:
        _put_back(session, [item.message_id for item in sent.left], stop.retry_at)  # type: ignore[arg-type]
    return stop


_UPDATE_BY_ID = update(Message)


def _record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> dict[int, Delivery]:
    """Record outcomes in the caller's transaction: the SIDs of the sent messages in one statement, each
    failure retried later, left `sending` for a look-up (ambiguous), or given up."""
    now = utcnow()
    sent: list[dict[str, object]] = []
    deliveries: dict[int, Delivery] = {}
    for outcome in outcomes:
        message_id, result = outcome.outgoing.message_id, outcome.result
        if result is not None:
            sent_at = now if result.status in (MessageStatus.STORED, MessageStatus.SENT) else None
            sent.append(
                {
                    "id": message_id,
                    "provider_sid": result.sid,
                    "status": result.status,
                    "next_attempt_at": None,
                    "sent_at": sent_at,
                    "updated_at": now,
                }
            )
            deliveries[message_id] = Delivery(message_id, sent=True)
            _count(outcome.outgoing, MessageStatus(result.status).value)
    if sent:
        session.execute(_UPDATE_BY_ID, sent)  # an executemany by primary key
    for outcome in outcomes:
        if outcome.failure is not None:
            deliveries[outcome.outgoing.message_id] = _record_failure(
                session, outcome.outgoing, outcome.failure
            )
    return deliveries


def _deliver_parallel(
    database: Database, sender: Sender, outgoing: Sequence[Outgoing], parallel: Parallel
) -> None:
    def send_one(item: Outgoing) -> Outcome | None:
        return _attempt(sender, item) if parallel.before_send(item) else None

    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=parallel.threads) as pool:
        order = {pool.submit(send_one, item): n for n, item in enumerate(outgoing)}
        pending = set(order)
        while pending:
            # One transaction for the sends that finished meanwhile instead of one per message, and each
            # recorded soon after its send.
            done, pending = wait(pending, timeout=parallel.record_every)
            outcomes = []
            for future in sorted(done, key=order.__getitem__):
                try:
                    outcome = future.result()
                except Exception as error:  # record every other send, then fail
                    failure = failure or error
                    continue
                if outcome is not None:
                    outcomes.append(outcome)
            if outcomes:
                with database.session() as session:
                    parallel.after_record(session, _record_outcomes(session, outcomes))
            if pending:
                parallel.while_waiting()
    if failure is not None:
        raise failure


def _count(item: Outgoing, status: str) -> None:
    """Count one hand-over to the provider (`regua_messages_total{direction="out"}`)."""
    instruments().messages.labels("out", str(item.request.channel), status).inc()


def _put_back(session: Session, message_ids: list[int], retry_at: datetime) -> None:
    session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.PENDING, next_attempt_at=retry_at, attempts=Message.attempts - 1)
        .execution_options(synchronize_session=False)
    )


def _record_failure(session: Session, item: Outgoing, error: SendFailure) -> Delivery:
    message_id = item.message_id
    message = session.get_one(Message, message_id)
    message.error_code = error.code
    message.error_message = str(error)[:500]
    if isinstance(error, AmbiguousSendError):
        # The provider may have it: never resend blindly. It stays `sending` without a SID; the sweep (or,
        # for a reminder, the dispatcher that reclaims its rows) asks the provider and sends again only if
        # it has no such message. What comes after it waits until then.
        message.updated_at = utcnow()
        log.warning("message %s: %s; outcome unknown, settled by lookup", message_id, error)
        _count(item, "ambiguous")
        return Delivery(message_id, sent=False, retry_at=utcnow() + AMBIGUOUS_WAIT)
    if isinstance(error, RetryableSendError) and item.attempt < MAX_SEND_ATTEMPTS:
        message.status = MessageStatus.PENDING
        message.next_attempt_at = utcnow() + backoff(item.attempt)
        log.warning(
            "message %s: %s; retry %s at %s", message_id, error, item.attempt, message.next_attempt_at
        )
        _count(item, "retry")
        return Delivery(message_id, sent=False, retry_at=message.next_attempt_at)
    message.status = MessageStatus.FAILED
    message.next_attempt_at = None
    log.warning("message %s failed for good: %s", message_id, error)
    _count(item, "failed")
    count_failure(str(item.request.channel), error.code)
    if error.code in OPT_OUT_ERROR_CODES:
        optout.record_for_conversation(
            session, message.conversation, OptOutAction.OPT_OUT, source="provider_error"
        )
    return Delivery(message_id, sent=False)
