"""Re-checking claimed outbox rows right before a reminder is composed: may it still go, and on which channel?

A row is sent only if an agent has not paused the régua for the debtor (the console's card), its invoice
or instalment is still open and not paused (paid, cancelled, in an agreement, "já paguei", a dispute, a
payment under review: bot.payments.mismatches), no person is talking
to the debtor, the channel is not opted out (and WhatsApp is consented), the debtor's local time is inside
the legal contact window, and the frequency caps allow it (one proactive message a day, a weekly cap).
A row that fails waits (window, caps, handoff), moves to its next channel, or is skipped for good. What
the checks read is loaded once per batch (`load_facts`), not per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.localtime import DEFAULT_TZ, local_date
from bot.models import (
    PAYMENT_REVIEW,
    Channel,
    Conversation,
    ConversationState,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OptOutAction,
    OptOutEvent,
    OutboxEntry,
    OutboxStatus,
    as_utc,
)
from bot.privacy.subjects import keyed_hash
from bot.reminders import outbox_rows
from bot.reminders.cadence import Cadence, Step
from bot.reminders.outbox_rows import DispatchStats

# The longest span a frequency cap counts (`per_week`).
_CAP_SPAN = timedelta(days=7)


def _charge_state(session: Session, entry: OutboxEntry, now: datetime) -> str | None:
    """Why the row's invoice or instalment must not be charged now, or None."""
    if entry.invoice_id is not None:
        invoice = session.get(Invoice, entry.invoice_id)
        if invoice is None or invoice.status != InvoiceStatus.OPEN:
            return "not_open"
        if invoice.pause_reason == "dispute":
            return "disputed"
        if invoice.pause_reason == PAYMENT_REVIEW:  # a payment did not match: held until an agent decides
            return "payment_review"
        paused_until = as_utc(invoice.collection_paused_until)
        if invoice.pause_reason and paused_until is not None and paused_until > now:
            return "paused"
        return None
    instalment = session.get(Instalment, entry.instalment_id) if entry.instalment_id else None
    if instalment is None or instalment.status != InstalmentStatus.OPEN:
        return "not_open"
    if instalment.agreement.pause_reason == PAYMENT_REVIEW:  # held by a payment case
        return "payment_review"
    return None


def address_on(debtor: Debtor, channel: str) -> str:
    """The debtor's number on `channel` (WhatsApp's own id when the debtor has one)."""
    if channel == Channel.WHATSAPP and debtor.whatsapp_id:
        return f"+{debtor.whatsapp_id}"
    return debtor.phone


@dataclass
class Facts:
    """What the re-checks of one batch read from the database, loaded with one query each for the whole
    batch (at the start of its transaction) instead of several queries per row."""

    # Debtors a person is talking to (a conversation not in the bot's hands).
    handoff: set[int]
    # The latest opt-out event of each (channel, address) of the batch's debtors.
    latest_opt_out: dict[tuple[Channel, str], OptOutAction]
    # Per debtor, {message id: latest sent_at} of its rows sent in the last week (the caps' longest span).
    sent: dict[int, dict[int, datetime]]

    def note_sent(self, entry: OutboxEntry) -> None:
        """A row of this batch was just marked sent (settled after a crash): later rows see it, as the
        per-row query used to after autoflush."""
        if entry.message_id is not None and entry.sent_at is not None:
            sent = self.sent.setdefault(entry.debtor_id, {})
            when = as_utc(entry.sent_at)
            assert when is not None
            sent[entry.message_id] = max(when, sent.get(entry.message_id, when))


def load_facts(session: Session, debtors: list[Debtor], now: datetime, key: bytes | None = None) -> Facts:
    ids = [debtor.id for debtor in debtors]
    handoff = set(
        session.scalars(
            select(Conversation.debtor_id).where(
                Conversation.debtor_id.in_(ids), Conversation.state != ConversationState.BOT
            )
        )
    )
    addresses = {
        address_on(debtor, channel) for debtor in debtors for channel in (Channel.WHATSAPP, Channel.SMS)
    }
    # An erased person's opt-outs hold a keyed hash of the number (bot.privacy): they still count.
    hashed = {keyed_hash(key, a): a for a in addresses} if key is not None else {}
    latest_opt_out: dict[tuple[Channel, str], OptOutAction] = {}
    for channel, address, action in session.execute(
        select(OptOutEvent.channel, OptOutEvent.address, OptOutEvent.action)
        .where(OptOutEvent.address.in_([*addresses, *hashed]))
        .order_by(OptOutEvent.id)
    ):
        latest_opt_out[(Channel(channel), hashed.get(address, address))] = OptOutAction(action)  # last wins
    sent: dict[int, dict[int, datetime]] = {}
    for debtor_id, message_id, sent_at in session.execute(
        select(OutboxEntry.debtor_id, OutboxEntry.message_id, OutboxEntry.sent_at).where(
            OutboxEntry.debtor_id.in_(ids),
            OutboxEntry.status == OutboxStatus.SENT,
            OutboxEntry.sent_at >= now - _CAP_SPAN,
            OutboxEntry.message_id.is_not(None),
        )
    ):
        when = as_utc(sent_at)
        by_message = sent.setdefault(debtor_id, {})
        by_message[message_id] = max(when, by_message.get(message_id, when))
    return Facts(handoff=handoff, latest_opt_out=latest_opt_out, sent=sent)


def _channel_allowed(facts: Facts, debtor: Debtor, channel: str) -> str | None:
    """Why this channel may not carry a proactive message to the debtor, or None."""
    # `optout.is_opted_out`'s rule, on the batch's facts: the debtor's flag, else the address's latest event.
    address = address_on(debtor, channel)
    if debtor.opted_out(Channel(channel)) or (
        facts.latest_opt_out.get((Channel(channel), address)) == OptOutAction.OPT_OUT
    ):
        return "opted_out"
    if channel == Channel.WHATSAPP and not debtor.has_consent(Channel.WHATSAPP):
        return "no_whatsapp_consent"  # WhatsApp business-initiated messages need an opt-in
    return None


def _sent_since(facts: Facts, debtor_id: int, since: datetime) -> int:
    """Proactive messages (not rows: a combined message counts once) sent to the debtor since `since`."""
    return sum(1 for when in facts.sent.get(debtor_id, {}).values() if when >= since)


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))


def check(
    session: Session,
    facts: Facts,
    entry: OutboxEntry,
    cadence: Cadence,
    step: Step,
    now: datetime,
    stats: DispatchStats,
) -> bool:
    """Re-check one row; True when it may be sent now on `entry.channel` (set here)."""
    debtor = session.get_one(Debtor, entry.debtor_id)
    reason = "debtor_paused" if debtor.reminders_paused_at is not None else _charge_state(session, entry, now)
    if reason is not None:
        outbox_rows.skip(entry, reason, stats)
        return False
    window = cadence.window
    zone = debtor.timezone or DEFAULT_TZ
    if local_date(now, zone) < entry.send_on:  # the step's day has not begun for this debtor
        opening = window.next_opening(_local_midnight(entry.send_on, zone), timezone=zone, state=debtor.state)
        outbox_rows.wait(entry, opening, "not_yet", stats)
        return False
    if debtor.id in facts.handoff:  # a person is talking to the debtor: no automatic reminders meanwhile
        outbox_rows.wait(entry, now + timedelta(days=1), "handoff", stats)
        return False
    while entry.channel_index < len(step.channels):
        channel = step.channels[entry.channel_index]
        blocked = _channel_allowed(facts, debtor, channel)
        if blocked is None:
            entry.channel = channel
            break
        stats.reasons[f"{channel}_{blocked}"] += 1
        entry.channel_index += 1
    else:
        outbox_rows.skip(entry, "no_channel", stats)
        return False
    if not window.is_open(now, timezone=zone, state=debtor.state):
        outbox_rows.wait(
            entry, window.next_opening(now, timezone=zone, state=debtor.state), "outside_window", stats
        )
        return False
    limits = cadence.limits
    today_start = _local_midnight(local_date(now, zone), zone)
    if _sent_since(facts, debtor.id, today_start) >= limits.per_day or (
        _sent_since(facts, debtor.id, now - _CAP_SPAN) >= limits.per_week
    ):
        tomorrow = _local_midnight(local_date(now, zone) + timedelta(days=1), zone)
        outbox_rows.wait(
            entry, window.next_opening(tomorrow, timezone=zone, state=debtor.state), "frequency_cap", stats
        )
        return False
    return True


@dataclass
class Plan:
    """A claimed row that passed its re-checks: its step and its creditor's cadence."""

    entry: OutboxEntry
    step: Step
    cadence: Cadence
