"""The dispatcher: claims due outbox rows, re-checks them, sends one combined message per debtor.

Exactly once, crash-safe (the healthchecks `sendalerts` pattern):

1. **Claim** up to a batch of due rows with one conditional UPDATE (`pending` → `sending`, with the
   dispatcher's name and a lease). On PostgreSQL the inner SELECT uses `FOR UPDATE SKIP LOCKED`, so any
   number of dispatchers on any number of machines take disjoint rows; on SQLite the single UPDATE is
   atomic. Rows whose lease expired (a dispatcher killed mid-batch) are claimable again.
2. **Re-check** each row right before sending: still open (not paid, not cancelled, not in an
   agreement), not paused by "já paguei", a dispute or a payment under review (an invoice, or the
   agreement of an instalment: bot.payments.mismatches), no human handoff in progress, the channel not
   opted out (and WhatsApp consented), inside the legal contact window in the debtor's local time, and
   under the frequency caps (one proactive message a day, a weekly cap). A row that fails waits (window,
   caps, handoff: `next_attempt_at`), moves to its next channel, or is skipped for good (paid, opted out).
3. **Save** one outbound message per debtor, creditor and channel, combining all the debtor's due rows
   (several open invoices become one message), and link the rows to it; commit.
4. **Send** each message at the shared global rate (bot.reminders.throttle) and record the provider's
   SID. Right before each HTTP call the dispatcher re-checks that it still holds the message's rows and
   renews their lease (one conditional UPDATE, `_fence`): a row whose lease ran out (a batch slower than
   the lease) may have been reclaimed by another dispatcher, so it is skipped, never sent twice; the whole
   batch's lease is also renewed while it runs (`_renew`). 429 or no connection: the rows wait for the
   retry time with the same saved message (never a second one); ambiguous (a 5xx or a timeout after the
   request went out: the provider may have it): the message stays `sending` without a SID and the rows
   keep their lease, so whoever reclaims them asks the provider first; permanent errors (21211 invalid
   number, 21610 unsubscribed, 63014 blocked) stop that channel — a WhatsApp failure falls back to the
   next channel (SMS).

A row reclaimed after a crash already points at its message: if the message was sent, the row is just
marked sent; if it is still pending, it is sent now; if the crash hit while the provider had it (status
`sending` with no SID), the provider is asked whether it has it (`Sender.lookup`) before anything is
sent again. So a step is never lost and never sent twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot import texts
from bot.channels import OutboundRequest, RetryableSendError, Sender
from bot.config import Settings
from bot.db import Database
from bot.delivery import outbound
from bot.documents import format_cnpj
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import (
    PAYMENT_REVIEW,
    Channel,
    Conversation,
    ConversationState,
    Creditor,
    Debtor,
    Direction,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
    OptOutAction,
    OptOutEvent,
    OutboxEntry,
    OutboxStatus,
    as_utc,
    utcnow,
)
from bot.money import format_brl
from bot.owner_ids import new_owner_id
from bot.payments import charges
from bot.privacy.subjects import keyed_hash
from bot.reminders import sms
from bot.reminders.cadence import (
    Cadence,
    Step,
    Variant,
    pick_variant,
    render_sms,
    render_whatsapp_variables,
)
from bot.reminders.planner import cadence_for
from bot.reminders.throttle import SendRate

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BATCH_SIZE = 200
SEND_THREADS = 8
# How often the sends that finished are recorded (rows marked sent), in one transaction each time.
_RECORD_EVERY = 0.1
WHATSAPP_WINDOW = timedelta(hours=24)
# The longest span a frequency cap counts (`per_week`).
_CAP_SPAN = timedelta(days=7)
# Statuses of a message the provider has (or, in sandbox mode, that was stored).
_SENT_STATUSES = {
    MessageStatus.STORED,
    MessageStatus.ACCEPTED,
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
}
# The most advanced date in Brazil (Fernando de Noronha, UTC-2): no debtor's local date is later.
_EARLIEST_ZONE = ZoneInfo("America/Noronha")


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


def _due(now: datetime) -> object:
    latest_local_date = now.astimezone(_EARLIEST_ZONE).date()
    return or_(
        and_(
            OutboxEntry.status == OutboxStatus.PENDING,
            OutboxEntry.send_on <= latest_local_date,
            or_(OutboxEntry.next_attempt_at.is_(None), OutboxEntry.next_attempt_at <= now),
        ),
        and_(OutboxEntry.status == OutboxStatus.SENDING, OutboxEntry.claimed_until < now),
    )


def claim(
    database: Database, owner: str, *, limit: int = BATCH_SIZE, now: datetime | None = None
) -> list[int]:
    """Claim up to `limit` due rows for `owner` with one conditional UPDATE; returns their ids."""
    now = now or utcnow()
    with database.session() as session:
        candidates = select(OutboxEntry.id).where(_due(now)).order_by(OutboxEntry.send_on, OutboxEntry.id)
        candidates = candidates.limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            # A MATERIALIZED CTE runs the locking SELECT exactly once. As a plain `IN (subquery)` PostgreSQL
            # may plan a nested-loop semi join that rescans the subquery for every outer row (it does when
            # the outbox's statistics predate the planner's rows); each rescan skips the rows this UPDATE
            # already changed and returns the next ones, so the claim took every due row, not `limit`.
            locked = candidates.with_for_update(skip_locked=True)
            claimable = locked.cte("claimable").prefix_with("MATERIALIZED")
            chosen = OutboxEntry.id.in_(select(claimable.c.id))
        else:
            chosen = OutboxEntry.id.in_(candidates.scalar_subquery())
        claimed = session.scalars(
            update(OutboxEntry)
            .where(chosen, _due(now))
            .values(
                status=OutboxStatus.SENDING,
                claimed_by=owner,
                claimed_until=now + LEASE,
                attempts=OutboxEntry.attempts + 1,
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        ).all()
    return list(claimed)


# ---- re-checks -------------------------------------------------------------------------------------------


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


def _address(debtor: Debtor, channel: str) -> str:
    if channel == Channel.WHATSAPP and debtor.whatsapp_id:
        return f"+{debtor.whatsapp_id}"
    return debtor.phone


@dataclass
class _Facts:
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


def _load_facts(session: Session, debtors: list[Debtor], now: datetime, key: bytes | None = None) -> _Facts:
    ids = [debtor.id for debtor in debtors]
    handoff = set(
        session.scalars(
            select(Conversation.debtor_id).where(
                Conversation.debtor_id.in_(ids), Conversation.state != ConversationState.BOT
            )
        )
    )
    addresses = {
        _address(debtor, channel) for debtor in debtors for channel in (Channel.WHATSAPP, Channel.SMS)
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
    return _Facts(handoff=handoff, latest_opt_out=latest_opt_out, sent=sent)


def _channel_allowed(facts: _Facts, debtor: Debtor, channel: str) -> str | None:
    """Why this channel may not carry a proactive message to the debtor, or None."""
    # `optout.is_opted_out`'s rule, on the batch's facts: the debtor's flag, else the address's latest event.
    address = _address(debtor, channel)
    if debtor.opted_out(Channel(channel)) or (
        facts.latest_opt_out.get((Channel(channel), address)) == OptOutAction.OPT_OUT
    ):
        return "opted_out"
    if channel == Channel.WHATSAPP and not debtor.has_consent(Channel.WHATSAPP):
        return "no_whatsapp_consent"  # WhatsApp business-initiated messages need an opt-in
    return None


def _sent_since(facts: _Facts, debtor_id: int, since: datetime) -> int:
    """Proactive messages (not rows: a combined message counts once) sent to the debtor since `since`."""
    return sum(1 for when in facts.sent.get(debtor_id, {}).values() if when >= since)


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))


@dataclass
class _Plan:
    """What to do with one claimed row."""

    entry: OutboxEntry
    step: Step
    cadence: Cadence


def _wait(entry: OutboxEntry, until: datetime, reason: str, stats: DispatchStats) -> None:
    entry.status = OutboxStatus.PENDING
    entry.next_attempt_at = until
    entry.claimed_by = entry.claimed_until = None
    entry.note = reason
    stats.deferred += 1
    stats.reasons[reason] += 1


def _skip(entry: OutboxEntry, reason: str, stats: DispatchStats) -> None:
    entry.status = OutboxStatus.SKIPPED
    entry.claimed_by = entry.claimed_until = None
    entry.note = reason
    stats.skipped += 1
    stats.reasons[reason] += 1


def _check(
    session: Session,
    facts: _Facts,
    entry: OutboxEntry,
    cadence: Cadence,
    step: Step,
    now: datetime,
    stats: DispatchStats,
) -> bool:
    """Re-check one row; True when it may be sent now on `entry.channel` (set here)."""
    debtor = session.get_one(Debtor, entry.debtor_id)
    reason = _charge_state(session, entry, now)
    if reason is not None:
        _skip(entry, reason, stats)
        return False
    window = cadence.window
    zone = debtor.timezone or DEFAULT_TZ
    if local_date(now, zone) < entry.send_on:  # the step's day has not begun for this debtor
        opening = window.next_opening(_local_midnight(entry.send_on, zone), timezone=zone, state=debtor.state)
        _wait(entry, opening, "not_yet", stats)
        return False
    if debtor.id in facts.handoff:  # a person is talking to the debtor: no automatic reminders meanwhile
        _wait(entry, now + timedelta(days=1), "handoff", stats)
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
        _skip(entry, "no_channel", stats)
        return False
    if not window.is_open(now, timezone=zone, state=debtor.state):
        _wait(entry, window.next_opening(now, timezone=zone, state=debtor.state), "outside_window", stats)
        return False
    limits = cadence.limits
    today_start = _local_midnight(local_date(now, zone), zone)
    if _sent_since(facts, debtor.id, today_start) >= limits.per_day or (
        _sent_since(facts, debtor.id, now - _CAP_SPAN) >= limits.per_week
    ):
        tomorrow = _local_midnight(local_date(now, zone) + timedelta(days=1), zone)
        _wait(entry, window.next_opening(tomorrow, timezone=zone, state=debtor.state), "frequency_cap", stats)
        return False
    return True


# ---- rendering -------------------------------------------------------------------------------------------


def _charge_for(session: Session, settings: Settings, entry: OutboxEntry, today: date) -> charges.Charge:
    provider = charges.provider_for(settings)
    if entry.invoice_id is not None:
        return charges.for_invoice(session.get_one(Invoice, entry.invoice_id), today, provider)
    return charges.for_instalment(session.get_one(Instalment, entry.instalment_id), provider)


def _values(
    session: Session, settings: Settings, debtor: Debtor, group: list[OutboxEntry], today: date
) -> dict[str, str]:
    """The placeholder values of a combined message: the first name, the creditor and CNPJ, the total due,
    the earliest due date, and the payment page of the oldest charge."""
    found = sorted(
        (_charge_for(session, settings, e, today) for e in group), key=lambda c: (c.due_date, c.reference)
    )
    oldest = found[0]
    total = format_brl(sum(c.amount_cents for c in found))
    return {
        "nome": debtor.first_name,
        "valor": texts.reminder_amount(total, len(found)),
        "data": oldest.due_date.strftime("%d/%m/%Y"),
        "credor": oldest.creditor.display_name,
        "cnpj": format_cnpj(oldest.creditor.cnpj),
        "link": oldest.page_url(session, settings),
    }


@dataclass
class _Draft:
    """A combined message being saved: the debtor, the leading row, the rows it carries, their values."""

    debtor: Debtor
    primary: _Plan
    group: list[OutboxEntry]
    values: dict[str, str]

    @property
    def address(self) -> tuple[Channel, str]:
        """The channel and the debtor's address on it."""
        channel = self.primary.entry.channel
        assert channel is not None, "the re-check sets the channel"
        return Channel(channel), _address(self.debtor, channel)


def _conversations(session: Session, drafts: list[_Draft]) -> dict[tuple[Channel, str], Conversation]:
    """The conversation of each draft's channel and address: the existing ones with one query, the missing
    ones created (by the first debtor found at that address) and inserted together."""
    wanted = {draft.address for draft in drafts}
    found = {
        (Channel(c.channel), c.address): c
        for c in session.scalars(
            select(Conversation).where(Conversation.address.in_({address for _, address in wanted}))
        )
        if (Channel(c.channel), c.address) in wanted
    }
    for draft in drafts:
        if draft.address not in found:
            channel, address = draft.address
            found[draft.address] = Conversation(channel=channel, address=address, debtor_id=draft.debtor.id)
            session.add(found[draft.address])
    session.flush()
    return found


def _message(
    settings: Settings, draft: _Draft, conversation: Conversation, now: datetime
) -> tuple[Message, Variant | None]:
    """The combined message for `draft` (rendered from the primary row's step and variant), not yet saved."""
    primary = draft.primary
    key = (
        f"{'i' if primary.entry.invoice_id else 'p'}{primary.entry.invoice_id or primary.entry.instalment_id}"
    )
    variant = pick_variant(primary.step, f"{key}:{primary.step.id}")
    channel = primary.entry.channel
    last_inbound = as_utc(conversation.last_inbound_at)
    inside_24h = last_inbound is not None and now - last_inbound < WHATSAPP_WINDOW
    text = primary.step.sms_for(variant)
    content_sid, variables = None, None
    if channel == Channel.WHATSAPP and not (inside_24h and text):
        # Outside the customer-service window WhatsApp accepts only approved templates.
        template = primary.step.whatsapp_for(variant)
        assert template is not None, "the cadence loader requires a template for the whatsapp channel"
        content_sid, variables = template.content_sid, render_whatsapp_variables(template, draft.values)
        body = f"[modelo {content_sid}] " + " | ".join(variables.values())
    else:
        assert text is not None, "the cadence loader requires sms text for the sms channel"
        body = render_sms(text, draft.values)
        if channel == Channel.SMS and settings.sms_economy:
            body = sms.to_gsm7(body)
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.OUTBOUND,
        channel=Channel(channel),  # type: ignore[arg-type]
        body=body,
        media=[],
        status=MessageStatus.PENDING,
        content_sid=content_sid,
        content_variables=variables,
    )
    return message, variant


def _save_messages(
    session: Session, settings: Settings, drafts: list[_Draft], now: datetime
) -> list[Message]:
    """Save one message per draft (their conversations first) and point the rows at it."""
    conversations = _conversations(session, drafts)
    saved = []
    for draft in drafts:
        message, variant = _message(settings, draft, conversations[draft.address], now)
        session.add(message)
        saved.append((draft, message, variant))
    session.flush()  # every message of the batch in one INSERT
    for draft, message, variant in saved:
        for entry in draft.group:
            entry.message_id = message.id
            entry.variant = variant.id if variant is not None else None
            entry.channel = draft.primary.entry.channel
    return [message for _, message, _ in saved]


# ---- a batch ---------------------------------------------------------------------------------------------


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
        facts = _load_facts(session, list(debtors.values()), now, settings.erasure_key)
        by_debtor: dict[int, list[_Plan]] = defaultdict(list)
        for entry in entries:
            if entry.message_id is not None:
                # Reclaimed after a crash: its message exists; finish that one (see `_resume`).
                found = _resume(session, entry, now, stats)
                to_send.extend(found)
                resumed.update(found)
                if entry.status == OutboxStatus.SENT:
                    facts.note_sent(entry)
                continue
            cadence = _cadence(session, entry)
            try:
                step = cadence.step(entry.step_id)
            except KeyError:
                _skip(entry, "step_removed", stats)  # the creditor's cadence changed since planning
                continue
            if _check(session, facts, entry, cadence, step, now, stats):
                by_debtor[entry.debtor_id].append(_Plan(entry, step, cadence))
        drafts: list[_Draft] = []
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
                    _wait(plan.entry, now + timedelta(days=1), "frequency_cap", stats)
            debtor = session.get_one(Debtor, debtor_id)
            zone = debtor.timezone or DEFAULT_TZ
            values = _values(session, settings, debtor, group, local_date(now, zone))
            drafts.append(_Draft(debtor, primary, group, values))
        for message in _save_messages(session, settings, drafts, now):
            to_send.append(message.id)
            stats.messages += 1
    return to_send, resumed


def _cadence(session: Session, entry: OutboxEntry) -> Cadence:
    """The cadence of the row's creditor."""
    return cadence_for(session.get_one(Creditor, entry.creditor_id))


def _resume(session: Session, entry: OutboxEntry, now: datetime, stats: DispatchStats) -> list[int]:
    """A row claimed again after its dispatcher died: settle it from the state of its message."""
    message = session.get_one(Message, entry.message_id)
    if message.status in _SENT_STATUSES and message.provider_sid:
        _mark_sent(session, [entry], as_utc(message.sent_at) or now)
        stats.sent += 1
        return []
    if message.status == MessageStatus.FAILED:
        _after_failure(session, [entry], message, stats)
        return []
    return [message.id]  # pending, or sending without a SID: `_send` settles it (lookup first)


def _mark_sent(session: Session, entries: list[OutboxEntry], when: datetime) -> None:
    for entry in entries:
        entry.status = OutboxStatus.SENT
        entry.sent_at = when
        entry.claimed_by = entry.claimed_until = None
        entry.next_attempt_at = None


def _after_failure(
    session: Session, entries: list[OutboxEntry], message: Message, stats: DispatchStats
) -> None:
    """The message failed for good: fall back to the step's next channel, or give the rows up."""
    for entry in entries:
        entry.error_code = message.error_code
        entry.claimed_by = entry.claimed_until = None
        cadence = _cadence(session, entry)
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


def _fence(database: Database, owner: str, message_id: int, now: datetime) -> bool:
    """Just before sending `message_id`: True if `owner` still holds every row of it (lease not run out at
    `now`), renewing their lease; False if any was lost (possibly reclaimed by another dispatcher: skip)."""
    with database.session() as session:
        held = session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.message_id == message_id,
                OutboxEntry.status == OutboxStatus.SENDING,
                OutboxEntry.claimed_by == owner,
                OutboxEntry.claimed_until >= now,
            )
            .values(claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        rows = session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.message_id == message_id)
        )
    return bool(held) and held == rows


def _renew(database: Database, owner: str, now: datetime) -> None:
    """Heartbeat: extend the lease of the rows `owner` still holds at `now` (never of one run out)."""
    with database.session() as session:
        session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.status == OutboxStatus.SENDING,
                OutboxEntry.claimed_by == owner,
                OutboxEntry.claimed_until >= now,
            )
            .values(claimed_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )


def _settle_unknown(database: Database, sender: Sender, message_id: int) -> None:
    """A message left `sending` without a SID by a dead dispatcher: ask the provider before resending."""
    with database.session() as session:
        message = session.get_one(Message, message_id)
        if message.status != MessageStatus.SENDING or message.provider_sid:
            return
        found = outbound.look_up(sender, message) if outbound.can_look_up(sender) else None
        if found is not None:
            outbound.record_found(message, found)
        else:
            message.status = MessageStatus.PENDING  # the provider never got it: send it now
            message.next_attempt_at = None


def _settle_resumed(database: Database, sender: Sender, message_ids: set[int]) -> set[int]:
    """Settle the messages of rows reclaimed after a crash (see `_settle_unknown`); returns those that
    could not be settled now (the provider's lookup failed): they stay `sending`, and their rows are
    reclaimed after the lease."""
    unsettled = set()
    for message_id in sorted(message_ids):
        try:
            _settle_unknown(database, sender, message_id)
        except RetryableSendError as error:
            log.warning("message %s: cannot tell whether the provider has it (%s); later", message_id, error)
            unsettled.add(message_id)
    return unsettled


def _record(
    database: Database, results: list[tuple[int, int, outbound.Outcome | None]], stats: DispatchStats
) -> None:
    """Record the provider's answers — (message id, attempts, outcome); None: not sent by this batch — and
    settle the messages' rows, in one transaction. A crash before it commits leaves the messages `sending`
    without a SID and the rows `sending`: reclaimed, they are settled from the provider
    (`_settle_unknown`)."""
    if not results:
        return
    with database.session() as session:
        deliveries = outbound.record(session, [r for r in results if r[2] is not None])  # type: ignore[misc]
        ids = [message_id for message_id, _, _ in results]
        messages = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
        rows: dict[int, list[OutboxEntry]] = defaultdict(list)
        for entry in session.scalars(
            select(OutboxEntry).where(OutboxEntry.message_id.in_(ids)).order_by(OutboxEntry.id)
        ):
            rows[entry.message_id].append(entry)  # type: ignore[index]
        for message_id, _, _ in results:
            delivery = deliveries.get(message_id, outbound.Delivery(message_id, sent=False))
            _record_one(session, messages[message_id], rows[message_id], delivery, stats)


def _record_one(
    session: Session,
    message: Message,
    entries: list[OutboxEntry],
    delivery: outbound.Delivery,
    stats: DispatchStats,
) -> None:
    """Settle the rows of one message after a delivery attempt."""
    if message.status in _SENT_STATUSES and message.provider_sid:
        _mark_sent(session, entries, as_utc(message.sent_at) or utcnow())
        stats.sent += len(entries)
    elif message.status == MessageStatus.SENDING:
        # Ambiguous: the provider may have it. The rows keep their lease; whoever reclaims them after it
        # asks the provider (`_settle_unknown`) and sends again only if it has no such message.
        stats.retried += len(entries)
    elif delivery.retry_at is not None:
        for entry in entries:  # 429 / 5xx: the same message goes again later, never a second one
            entry.status = OutboxStatus.PENDING
            entry.next_attempt_at = delivery.retry_at
            entry.claimed_by = entry.claimed_until = None
        stats.retried += len(entries)
    elif message.status == MessageStatus.FAILED:
        _after_failure(session, entries, message, stats)


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
    """Claim, re-check, save and send one batch. `stats.claimed == 0` means there was nothing due."""
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
    # The batch's messages are claimed together (one UPDATE), handed to the provider by threads at the
    # shared rate, and recorded together every `_RECORD_EVERY` seconds: per message, only the HTTP call.
    claimed = outbound.claim(database, settings, [m for m in message_ids if m not in unsettled])
    left_over = set(message_ids) - unsettled - {message_id for message_id, _, _ in claimed}

    def send_one(
        message_id: int, request: OutboundRequest, attempts: int
    ) -> tuple[int, int, outbound.Outcome] | None:
        rate = (rates or {}).get(Channel(request.channel).value)
        if rate is not None:
            rate.acquire()
        if not _fence(database, owner, message_id, clock()):
            # Its lease ran out: another dispatcher may hold the rows now and settles the message (it is
            # `sending` without a SID, so it asks the provider first). Sending here could send it twice.
            log.warning("message %s: lease lost before sending; left to its new holder", message_id)
            return None
        return message_id, attempts, outbound.attempt(sender, request)

    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=SEND_THREADS) as pool:
        order = {pool.submit(send_one, *item): n for n, item in enumerate(claimed)}
        pending = set(order)
        # Messages not claimed here (already sent, or failed, before a crash) only have their rows settled.
        results: list[tuple[int, int, outbound.Outcome | None]] = [(m, 0, None) for m in sorted(left_over)]
        renewed = time.monotonic()
        while True:
            # Record what has been sent every `_RECORD_EVERY` seconds: one transaction for the sends that
            # finished meanwhile instead of one per message, and rows marked sent soon after their send
            # (the frequency caps of the other dispatchers count them).
            done, pending = wait(pending, timeout=_RECORD_EVERY) if pending else (set(), set())
            for future in sorted(done, key=order.__getitem__):
                try:
                    result = future.result()
                except Exception as error:  # record every other send, then fail as before
                    failure = failure or error
                    continue
                if result is not None:  # None: lost to another dispatcher, not ours to record
                    results.append(result)
            _record(database, results, stats)
            results = []
            if pending and time.monotonic() - renewed > LEASE.total_seconds() / 3:
                _renew(database, owner, clock())  # a batch slower than the lease keeps what it still holds
                renewed = time.monotonic()
            if not pending:
                break
    if failure is not None:
        raise failure
    return stats


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
    _after_failure(session, entries, message, DispatchStats())
    return True


def pending_count(database: Database, now: datetime | None = None) -> int:
    """How many rows are due now (for the scheduler's decision to start dispatchers)."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxEntry).where(_due(now or utcnow()))) or 0
