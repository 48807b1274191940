"""The minute sweep (a job on RQ, scheduled by bot.conversation.sweep_schedule): it replays messages
spooled while the database was down (bot.conversation.spool), re-enqueues work whose job was lost (a
Redis restart, a message saved while Redis was down), settles sends whose outcome is unknown (asking
Twilio) and, once an hour, breaks agreements with an instalment overdue beyond the creditor's limit,
settles promises to pay, queues the refresh of the dashboard's aggregates (bot.analytics.jobs), and
runs the LGPD retention job when it has not run for a day (bot.privacy.retention).

It reschedules itself first, whatever then happens, and each step and each row is isolated (a failure
is logged and the rest goes on); the job id is the minute it runs in, so any number of workers (and the
scheduler process, which re-seeds a lost chain) keeps exactly one chain going.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from bot import localtime, runtime
from bot.agreements import lifecycle, promises
from bot.channels import RetryableSendError
from bot.console.giveback import sweep_idle
from bot.conversation import leases
from bot.conversation.spool import Spool
from bot.conversation.sweep_schedule import RESULT_TTL, schedule_sweep
from bot.delivery import lookup, sending
from bot.localtime import DEFAULT_TZ
from bot.models import Conversation, Direction, Message, MessageStatus, OutboxEntry, Processing, utcnow
from bot.privacy import retention
from bot.runtime import RqLater, Services

log = logging.getLogger(__name__)

# A reply `sending` this long without a SID: Twilio may or may not have it (see sending.STUCK_SENDING).
STUCK_SENDING = sending.STUCK_SENDING
SWEEP_BATCH = 1000
# The dashboard's aggregates (bot.analytics.jobs), by dotted path: the sweep never imports the analytics.
ANALYTICS_JOB = "bot.analytics.jobs.refresh"
# At most this many Twilio lookups per sweep (the rest wait for the next one).
LOOKUP_BATCH = 100
# The sweep replays spooled messages for at most this long (the rest wait for the next sweep).
SPOOL_REPLAY_SECONDS = 30.0


def sweep() -> dict[str, int]:
    """Job: schedule the next sweep, then replay spooled messages, re-enqueue lost work and close sends
    with unknown outcome.

    The next sweep is scheduled first, whatever this one then does: a chain that rescheduled only after
    success died at the first exception (a timeout, a Redis flush, one bad row) until a worker restarted.
    The scheduler process re-seeds the chain too (`ensure_sweep`), in case Redis lost the scheduled job."""
    services = runtime.services()
    schedule_sweep(services.later.queue if isinstance(services.later, RqLater) else None)
    replayed = replay_spool(services)
    found = {"replayed": replayed, **sweep_once(services)}
    if any(found.values()):
        log.info("sweep: %s", found)
    return found


def replay_spool(services: Services) -> int:
    """Save the messages the webhook spooled while the database was down (bot.conversation.spool): the
    Redis list,
    and the file under this machine's var/spool/ (web processes on other machines replay their own
    at their next request). Never fails the sweep: what is left waits for the next one."""
    conn = services.later.queue.connection if isinstance(services.later, RqLater) else None
    spool = Spool(conn, services.settings.var_dir / "spool")
    try:
        return spool.replay(services.database, services.later, time.monotonic() + SPOOL_REPLAY_SECONDS)
    except Exception:
        log.exception("spool replay failed; the next sweep tries again")
        return 0


def sweep_once(services: Services) -> dict[str, int]:
    """One sweep over the database; returns how many conversations/messages it acted on."""
    now = utcnow()
    free = leases.is_free(now)
    with services.database.session() as session:
        to_process = session.scalars(
            select(Message.conversation_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.direction == Direction.INBOUND,
                Message.processing == Processing.PENDING,
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                free,
            )
            .group_by(Message.conversation_id)
            .order_by(func.min(Message.id))
            .limit(SWEEP_BATCH)
        ).all()
        to_deliver = session.scalars(
            select(Message.conversation_id)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .group_by(Message.conversation_id)
            .limit(SWEEP_BATCH)
        ).all()
        stuck = session.scalars(
            select(Message.id)
            .where(
                and_(Message.status == MessageStatus.SENDING, Message.provider_sid.is_(None)),
                Message.updated_at < now - STUCK_SENDING,
                # Reminders are settled by their dispatcher, which asks Twilio too (bot.reminders).
                ~select(OutboxEntry.id).where(OutboxEntry.message_id == Message.id).exists(),
            )
            .order_by(Message.id)
            .limit(LOOKUP_BATCH)
        ).all()
    resend = _step("stuck sends", _settle_stuck, services, stuck, now)
    _step("idle console conversations", sweep_idle, services, now)  # back to the queue (bot.console)
    to_deliver = list(dict.fromkeys([*to_deliver, *resend]))
    broken: list[int] = []
    promised = {"kept": 0, "broken": 0}
    if now.minute == 0:  # hourly is plenty for a limit counted in days
        broken = _step("overdue agreements", _break_overdue, services, now)
        promised = _step("promises", _settle_promises, services, now) or promised
        _step("analytics refresh", _queue_analytics_refresh, services, now)
    for conversation_id in to_process:
        _step("enqueue", services.later.process, conversation_id)
    for conversation_id in to_deliver:
        _step("enqueue", services.later.deliver, conversation_id)
    if now.minute == 0:
        _retention(services, now)
    return {
        "processing": len(to_process),
        "delivering": len(to_deliver),
        "stuck_sends": len(stuck),
        "broken_agreements": len(broken or []),
        "kept_promises": promised["kept"],
        "broken_promises": promised["broken"],
    }


def _step(name: str, func, *args):  # type: ignore[no-untyped-def]
    """Run one step of the sweep; a failure is logged and the rest of the sweep goes on (each step's
    work stays in the database for the next sweep). Returns the step's result, or [] on failure."""
    try:
        return func(*args)
    except Exception:
        log.exception("sweep step %s failed; the next sweep tries again", name)
        return []


def _break_overdue(services: Services, now: datetime) -> list[int]:
    with services.database.session() as session:
        return lifecycle.break_overdue(session, localtime.local_date(now, DEFAULT_TZ))


def _settle_promises(services: Services, now: datetime) -> dict[str, int]:
    """Promises to pay kept or broken (bot.agreements.promises), hourly; a failure waits for the next hour."""
    with services.database.session() as session:
        return promises.settle(session, now)


def _queue_analytics_refresh(services: Services, now: datetime) -> None:
    """Queue the hourly refresh of the dashboard's aggregates (bot.analytics.jobs) as its own job, by
    dotted path; the job id is the hour, so several workers' sweeps queue it once."""
    if not isinstance(services.later, RqLater):
        return
    queue = services.later.queue
    job_id = f"regua-analytics-{now:%Y%m%d%H}"
    if not queue.connection.exists(f"rq:job:{job_id}"):
        queue.enqueue(ANALYTICS_JOB, job_id=job_id, job_timeout=1800, result_ttl=RESULT_TTL)


def _retention(services: Services, now: datetime) -> None:
    """The LGPD retention job, at most once a day (it checks its own last run), after the sweep's
    urgent work. A failure is logged and retried at the next hourly sweep: it must not stop the sweeps."""
    try:
        retention.run_if_due(services.database, services.settings, now)
    except Exception:
        log.exception("retention job failed; retrying at the next hourly sweep")


def _settle_stuck(services: Services, message_ids: list[int], now: datetime) -> list[int]:
    """Settle replies whose outcome is unknown: what Twilio has gets its SID and status, what it never
    got goes back to `pending` (never sent twice). Returns the conversations with replies to send again.
    A sender that cannot be asked (the sandbox) cannot tell: those are marked failed."""
    resend: list[int] = []
    if not message_ids:
        return resend
    if not lookup.can_look_up(services.sender):
        with services.database.session() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_(message_ids), Message.status == MessageStatus.SENDING)
                .values(
                    status=MessageStatus.FAILED,
                    error_message="outcome unknown: the sender stopped while sending",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        return resend
    for message_id in message_ids:
        try:
            with services.database.session() as session:
                message = session.get_one(Message, message_id)
                if lookup.settle(services.sender, message) is False:  # None: its callback came meanwhile
                    log.warning("message %s never reached Twilio; sending it again", message_id)
                    resend.append(message.conversation_id)
        except RetryableSendError as error:
            log.warning("message %s: cannot ask Twilio now (%s); next sweep", message_id, error)
        except Exception:
            # One bad row (e.g. its match already recorded elsewhere) must not stop the others.
            log.exception("message %s: settling failed; skipped until the next sweep", message_id)
    return resend
