"""The reminder dispatcher: claims due outbox rows, re-checks them, sends one combined message per debtor.

Exactly once, crash-safe (the healthchecks `sendalerts` pattern), one batch at a time (`dispatch_batch`):

1. **Claim** up to a batch of due rows with one conditional UPDATE and a lease (bot.reminders.claiming).
2. **Re-check** each row right before sending: still open and not paused, no human handoff, the channel
   not opted out, inside the legal contact window, under the frequency caps (bot.reminders.rechecks). A
   row that fails waits, moves to its next channel, or is skipped for good (bot.reminders.outbox_rows).
3. **Compose** one outbound message per debtor, creditor and channel, combining all the debtor's due rows,
   and link the rows to it; commit (bot.reminders.composing).
4. **Deliver** the batch's messages through the one delivery path (bot.delivery.sending.deliver), in
   threads at the shared global rate (bot.reminders.throttle). Right before each send the dispatcher
   checks that it still holds the message's rows and renews their lease (`claiming.fence`): a row whose
   lease ran out may have been reclaimed by another dispatcher, so it is skipped, never sent twice; the
   whole batch's lease is renewed while it runs (`claiming.renew`). The rows are settled in the
   transaction that records their message's outcome: sent; 429 or no connection: the rows wait for the
   retry time with the same saved message (never a second one); ambiguous (the provider may have it):
   the message stays `sending` without a SID and the rows keep their lease, so whoever reclaims them asks
   the provider first; permanent errors stop that channel (a WhatsApp failure falls back to SMS).

A row reclaimed after a crash already points at its message: if the message was sent, the row is just
marked sent; if it is still pending, it is sent now; if the crash hit while the provider had it (status
`sending` with no SID), the provider is asked whether it has it (bot.delivery.lookup) before anything is
sent again. So a step is never lost and never sent twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels import RetryableSendError, Sender
from bot.config import Settings
from bot.db import Database
from bot.delivery import lookup, outgoing, sending
from bot.delivery.outgoing import Outgoing
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import (
    Channel,
    Creditor,
    Debtor,
    Instalment,
    Invoice,
    Message,
    MessageStatus,
    OutboxEntry,
    OutboxStatus,
    as_utc,
    utcnow,
)
from bot.observability.instruments import instruments
from bot.owner_ids import new_owner_id
from bot.reminders import claiming, composing, outbox_rows, rechecks
from bot.reminders.cadence import HOLDOUT
from bot.reminders.claiming import BATCH_SIZE, claim, pending_count
from bot.reminders.composing import Draft
from bot.reminders.outbox_rows import SENT_STATUSES, DispatchStats
from bot.reminders.rechecks import Plan
from bot.reminders.throttle import SendRate

__all__ = ["BATCH_SIZE", "DispatchStats", "claim", "dispatch_batch", "on_delivery_failure", "pending_count"]

log = logging.getLogger(__name__)

SEND_THREADS = 8


def _load_rows(session: Session, entries: list[OutboxEntry]) -> tuple[dict[int, Debtor], list[object]]:
    """The batch's debtors, creditors, invoices and instalments, with one query each.

    The session's identity map holds objects weakly: the returned objects must be kept for the whole
    session, so that every `session.get` of them below (the re-checks, the charges, the payment links)
    is answered from memory instead of by a query per row."""

    def ids(column: str) -> set[int]:
        return {getattr(e, column) for e in entries if getattr(e, column) is not None}

    loaded: list[object] = []
    debtors: dict[int, Debtor] = {}
    for model, column in ((Debtor, "debtor_id"), (Creditor, "creditor_id"), (Invoice, "invoice_id"),
                          (Instalment, "instalment_id")):  # fmt: skip
        wanted = ids(column)
        if wanted:
            rows = session.scalars(select(model).where(model.id.in_(wanted))).all()  # type: ignore[attr-defined]
            loaded.extend(rows)
            if model is Debtor:
                debtors = {row.id: row for row in rows}
    return debtors, loaded


def _prepare(
    database: Database, settings: Settings, ids: list[int], now: datetime, stats: DispatchStats
) -> tuple[list[int], set[int]]:
    """Re-check the claimed rows and save one message per debtor. Returns the message ids to send, and
    those of them that were saved before this batch (rows reclaimed after a crash)."""
    to_send: list[int] = []
    resumed: set[int] = set()
    with database.session() as session:
        entries = session.scalars(
            select(OutboxEntry).where(OutboxEntry.id.in_(ids)).order_by(OutboxEntry.id)
        ).all()
        debtors, _keep = _load_rows(session, list(entries))
        facts = rechecks.load_facts(session, list(debtors.values()), now, settings.erasure_key)
        by_debtor: dict[int, list[Plan]] = defaultdict(list)
        for entry in entries:
            if entry.message_id is not None:
                # Reclaimed after a crash: its message exists; finish that one (see `_resume`).
                found = _resume(session, entry, now, stats)
                to_send.extend(found)
                resumed.update(found)
                if entry.status == OutboxStatus.SENT:
                    facts.note_sent(entry)
                continue
            cadence = outbox_rows.cadence_of(session, entry)
            try:
                step = cadence.step(entry.step_id)
            except KeyError:
                # The creditor's cadence changed since planning.
                outbox_rows.skip(entry, "step_removed", stats)
                continue
            if not rechecks.check(session, facts, entry, cadence, step, now, stats):
                continue
            if entry.variant == HOLDOUT:
                if step.holdout:  # every rule let it through: it simply gets nothing for this step
                    outbox_rows.hold_out(entry, now, stats)
                    continue
                entry.variant = None  # the holdout ended (a winner was declared): send as usual
            by_debtor[entry.debtor_id].append(Plan(entry, step, cadence))
        drafts: list[Draft] = []
        for debtor_id, plans in by_debtor.items():
            # One proactive message per debtor: the most advanced step leads; rows of another creditor or
            # that cannot go on the leading channel wait for the next day.
            primary = max(plans, key=lambda p: (p.step.offset_days, -p.entry.id))
            group = [
                p.entry
                for p in plans
                if p.entry.creditor_id == primary.entry.creditor_id
                and primary.entry.channel in p.step.channels
            ]
            for plan in plans:
                if plan.entry not in group:
                    outbox_rows.wait(plan.entry, now + timedelta(days=1), "frequency_cap", stats)
            debtor = session.get_one(Debtor, debtor_id)
            zone = debtor.timezone or DEFAULT_TZ
            values = composing.values(session, settings, debtor, group, local_date(now, zone))
            drafts.append(Draft(debtor, primary, group, values))
        for message in composing.save_messages(session, settings, drafts, now):
            to_send.append(message.id)
            stats.messages += 1
    return to_send, resumed


def _resume(session: Session, entry: OutboxEntry, now: datetime, stats: DispatchStats) -> list[int]:
    """A row claimed again after its dispatcher died: settle it from the state of its message."""
    message = session.get_one(Message, entry.message_id)
    if message.status in SENT_STATUSES and message.provider_sid:
        outbox_rows.mark_sent([entry], as_utc(message.sent_at) or now)
        stats.sent += 1
        return []
    if message.status == MessageStatus.FAILED:
        outbox_rows.after_failure(session, [entry], message, stats)
        return []
    return [message.id]  # pending, or sending without a SID: settled first (`_settle_resumed`)


def _settle_resumed(database: Database, sender: Sender, message_ids: set[int]) -> set[int]:
    """Settle the messages of rows reclaimed after a crash: one left `sending` without a SID by a dead
    dispatcher is looked up at the provider before anything is sent again (bot.delivery.lookup). Returns
    those that could not be settled now (the look-up failed): they stay `sending`, and their rows are
    reclaimed after the lease."""
    unsettled = set()
    for message_id in sorted(message_ids):
        try:
            with database.session() as session:
                lookup.settle(sender, session.get_one(Message, message_id))
        except RetryableSendError as error:
            log.warning("message %s: cannot tell whether the provider has it (%s); later", message_id, error)
            unsettled.add(message_id)
    return unsettled


def _settle_rows(session: Session, deliveries: dict[int, sending.Delivery], stats: DispatchStats) -> None:
    """Settle the rows of the messages just recorded (`deliveries`), in the same transaction. A crash
    before it commits leaves the messages `sending` without a SID and the rows `sending`: reclaimed, they
    are settled from the provider (`_settle_resumed`)."""
    ids = sorted(deliveries)
    messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
    rows: dict[int, list[OutboxEntry]] = defaultdict(list)
    for entry in session.scalars(
        select(OutboxEntry).where(OutboxEntry.message_id.in_(ids)).order_by(OutboxEntry.id)
    ):
        rows[entry.message_id].append(entry)  # type: ignore[index]
    for message_id in ids:
        _settle_one(session, messages[message_id], rows[message_id], deliveries[message_id], stats)


def _settle_one(
    session: Session,
    message: Message,
    entries: list[OutboxEntry],
    delivery: sending.Delivery,
    stats: DispatchStats,
) -> None:
    """Settle the rows of one message after a delivery attempt."""
    if message.status in SENT_STATUSES and message.provider_sid:
        outbox_rows.mark_sent(entries, as_utc(message.sent_at) or utcnow())
        stats.sent += len(entries)
    elif message.status == MessageStatus.SENDING:
        # Ambiguous: the provider may have it. The rows keep their lease; whoever reclaims them after it
        # asks the provider (`_settle_resumed`) and sends again only if it has no such message.
        stats.retried += len(entries)
    elif delivery.retry_at is not None:
        for entry in entries:  # 429 / no connection: the same message goes again later, never a second one
            entry.status = OutboxStatus.PENDING
            entry.next_attempt_at = delivery.retry_at
            entry.claimed_by = entry.claimed_until = None
        stats.retried += len(entries)
    elif message.status == MessageStatus.FAILED:
        outbox_rows.after_failure(session, entries, message, stats)


def dispatch_batch(
    database: Database,
    settings: Settings,
    sender: Sender,
    rates: dict[str, SendRate] | None = None,
    *,
    limit: int = BATCH_SIZE,
    now: datetime | None = None,
    owner: str | None = None,
) -> DispatchStats:
    """Claim, re-check, compose and deliver one batch. `stats.claimed == 0` means there was nothing due."""
    stats = DispatchStats()
    now = now or utcnow()
    owner = owner or new_owner_id()
    claimed_at, started = now, time.monotonic()

    def clock() -> datetime:
        # The claim's clock moved on by the time spent since: leases are compared on one clock.
        return claimed_at + timedelta(seconds=time.monotonic() - started)

    ids = claim(database, owner, limit=limit, now=now)
    stats.claimed = len(ids)
    if not ids:
        return stats
    message_ids, resumed = _prepare(database, settings, ids, now, stats)
    unsettled = _settle_resumed(database, sender, resumed)
    with database.session() as session:
        claimed = outgoing.claim(session, settings, [m for m in message_ids if m not in unsettled])
    # Messages not claimed here (already sent, or failed, before a crash) only have their rows settled.
    left_over = set(message_ids) - unsettled - {item.message_id for item in claimed}
    if left_over:
        with database.session() as session:
            _settle_rows(session, {m: sending.Delivery(m, sent=False) for m in left_over}, stats)

    def before_send(item: Outgoing) -> bool:
        rate = (rates or {}).get(Channel(item.request.channel).value)
        if rate is not None:
            rate.acquire()
        if not claiming.fence(database, owner, item.message_id, clock()):
            # Its lease ran out: another dispatcher may hold the rows now and settles the message (it is
            # `sending` without a SID, so it asks the provider first). Sending here could send it twice.
            log.warning("message %s: lease lost before sending; left to its new holder", item.message_id)
            return False
        return True

    renewed = time.monotonic()

    def while_waiting() -> None:
        nonlocal renewed
        if time.monotonic() - renewed > claiming.LEASE.total_seconds() / 3:
            claiming.renew(database, owner, clock())  # a batch slower than the lease keeps what it holds
            renewed = time.monotonic()

    # Per message only the HTTP call runs in a thread; the outcomes (and the rows, marked sent soon after
    # their send, so the frequency caps of the other dispatchers count them) are recorded together.
    parallel = sending.Parallel(
        threads=SEND_THREADS,
        before_send=before_send,
        after_record=lambda session, deliveries: _settle_rows(session, deliveries, stats),
        while_waiting=while_waiting,
    )
    sending.deliver(database, sender, claimed, parallel=parallel)
    _count(stats)
    return stats


# What `regua_reminders_dispatched_total{outcome}` counts of a batch (outbox rows): its rate is the
# dispatch rate.
_OUTCOMES = ("sent", "skipped", "deferred", "retried", "fell_back", "failed")


def _count(stats: DispatchStats) -> None:
    counter = instruments().reminders_dispatched
    for outcome in _OUTCOMES:
        if getattr(stats, outcome):
            counter.labels(outcome).inc(getattr(stats, outcome))


def on_delivery_failure(session: Session, message: Message) -> bool:
    """A status callback says a proactive message failed (WhatsApp: not a WhatsApp user, outside the
    window...): fall its rows back to the next channel. False when the message was not a reminder."""
    entries = list(
        session.scalars(
            select(OutboxEntry).where(
                OutboxEntry.message_id == message.id, OutboxEntry.status == OutboxStatus.SENT
            )
        )
    )
    if not entries:
        return False
    outbox_rows.after_failure(session, entries, message, DispatchStats())
    return True
