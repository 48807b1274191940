"""What happens to a claimed outbox row: it waits, is skipped, is marked sent or falls back to its step's
next channel; and the counts of a dispatch run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.models import Creditor, Message, MessageStatus, OutboxEntry, OutboxStatus
from bot.reminders.cadence import HOLDOUT, Cadence
from bot.reminders.planner import cadence_for

# Statuses of a message the provider has (or, in sandbox mode, that was stored).
SENT_STATUSES = {
    MessageStatus.STORED,
    MessageStatus.ACCEPTED,
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
}


@dataclass
class DispatchStats:
    """What one dispatch run did (counts of outbox rows, and of messages sent)."""

    claimed: int = 0
    messages: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    fell_back: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: DispatchStats) -> None:
        """Accumulate another run's counts."""
        for name in ("claimed", "messages", "sent", "skipped", "deferred", "retried", "fell_back", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reasons.items():
            self.reasons[reason] += count


def wait(entry: OutboxEntry, until: datetime, reason: str, stats: DispatchStats) -> None:
    """The row goes back to `pending` until `until` (outside the window, a cap, a handoff...)."""
    entry.status = OutboxStatus.PENDING
    entry.next_attempt_at = until
    entry.claimed_by = entry.claimed_until = None
    entry.note = reason
    stats.deferred += 1
    stats.reasons[reason] += 1


def skip(entry: OutboxEntry, reason: str, stats: DispatchStats) -> None:
    """The row is given up for good (paid, opted out, its step removed...)."""
    entry.status = OutboxStatus.SKIPPED
    entry.claimed_by = entry.claimed_until = None
    entry.note = reason
    stats.skipped += 1
    stats.reasons[reason] += 1


def hold_out(entry: OutboxEntry, when: datetime, stats: DispatchStats) -> None:
    """The row is in its step's holdout and passed every re-check: nothing is sent, and `sent_at` records
    the moment its message would have gone (the experiment's readout measures from it). Not a contact:
    no message, so it counts for no cap and no metric of bot.analytics."""
    skip(entry, HOLDOUT, stats)
    entry.variant = HOLDOUT
    entry.sent_at = when


def mark_sent(entries: list[OutboxEntry], when: datetime) -> None:
    """The rows' message reached the provider at `when`."""
    for entry in entries:
        entry.status = OutboxStatus.SENT
        entry.sent_at = when
        entry.claimed_by = entry.claimed_until = None
        entry.next_attempt_at = None


def cadence_of(session: Session, entry: OutboxEntry) -> Cadence:
    """The cadence of the row's creditor."""
    return cadence_for(session.get_one(Creditor, entry.creditor_id))


def after_failure(
    session: Session, entries: list[OutboxEntry], message: Message, stats: DispatchStats
) -> None:
    """The message failed for good: fall back to the step's next channel, or give the rows up."""
    for entry in entries:
        entry.error_code = message.error_code
        entry.claimed_by = entry.claimed_until = None
        cadence = cadence_of(session, entry)
        try:
            channels = cadence.step(entry.step_id).channels
        except KeyError:
            channels = ()
        if entry.channel_index + 1 < len(channels):
            entry.channel_index += 1
            entry.message_id = None
            entry.status = OutboxStatus.PENDING
            entry.next_attempt_at = None
            stats.fell_back += 1
        else:
            entry.status = OutboxStatus.FAILED
            entry.note = f"provider error {message.error_code}" if message.error_code else "send failed"
            stats.failed += 1
