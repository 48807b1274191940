"""The queue: conversations waiting for a person, as one agent may see them.

Oldest request first (the debtor who has waited longest is served first; the reason is shown, and
legal threats and complaints are marked as priorities). An agent sees the conversations nobody owns and
their own; a supervisor or admin sees everyone's (`Permission.SEE_ALL`). Filters: a reason, and a scope
("mine", "unassigned", or everything visible). Counts per reason cover everything visible in the scope,
whatever the reason filter, so the filter bar always shows what else is waiting.

Three queries whatever the page size: the counts, the page of conversations (with the debtor and owner),
and the open amounts per debtor and creditor of that page.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.elements import ColumnElement

from bot.channels.whatsapp_window import whatsapp_window_open
from bot.conversation.handoff import PRIORITY_REASONS
from bot.models import Channel, Conversation, ConversationState, Creditor, Invoice, InvoiceStatus, User
from bot.people.roles import Permission, can

SCOPES = ("all", "mine", "unassigned")
# The oldest 50 requests: more than a screen (a phone shows a handful), and the page says how many more
# wait. Each row is a few forms; 200 rows made the page (and the live refresh every agent's open queue
# asks for every 3 s) cost 50-90 ms of a web thread's CPU, 4 times what 50 cost (bench/console).
PAGE_SIZE = 50
_HANDED_OVER = (ConversationState.WAITING_AGENT, ConversationState.WITH_AGENT)


@dataclass(frozen=True)
class QueueFilter:
    """What the viewer asked to see: a `reason` (None: any) and a scope (one of `SCOPES`)."""

    reason: str | None = None
    scope: str = "all"

    @classmethod
    def parse(cls, reason: str | None, scope: str | None) -> QueueFilter:
        """A filter from query-string values; unknown values fall back to "everything"."""
        reason = (reason or "").strip()[:20] or None
        return cls(reason=reason, scope=scope if scope in SCOPES else "all")


@dataclass(frozen=True)
class Entry:
    """One conversation in the queue, with what an agent needs to pick it."""

    conversation_id: int
    debtor_name: str | None  # None: a number Régua does not know
    address: str  # the debtor's number, masked but for the last 4 digits
    channel: Channel
    reason: str | None
    priority: bool
    requested_at: datetime | None
    waiting_seconds: int
    owner_id: int | None
    owner_name: str | None
    creditors: tuple[str, ...]
    open_cents: int
    window_open: bool | None  # WhatsApp 24 h window; None on SMS (no such window)


@dataclass(frozen=True)
class Queue:
    """A page of the queue and the counts per reason."""

    entries: list[Entry]
    counts: dict[str | None, int]
    total: int

    @property
    def signature(self) -> str:
        """Changes when a row comes, goes or changes owner, or a count changes (not as time passes): the
        live page swaps its rows only then, so an agent picking an assignee is not interrupted."""
        rows = ",".join(f"{e.conversation_id}:{e.owner_id or ''}" for e in self.entries)
        counts = ",".join(f"{k}={v}" for k, v in sorted(self.counts.items(), key=lambda kv: str(kv[0])))
        return hashlib.sha256(f"{rows}|{counts}".encode()).hexdigest()[:16]


def _owned() -> ColumnElement[bool]:
    return and_(
        Conversation.state == ConversationState.WITH_AGENT, Conversation.assigned_user_id.is_not(None)
    )


def _visible(viewer: User, scope: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Conversation.state.in_(_HANDED_OVER)]
    mine = and_(_owned(), Conversation.assigned_user_id == viewer.id)
    if scope == "mine":
        conditions.append(mine)
    elif scope == "unassigned":
        conditions.append(~_owned())
    elif not can(viewer, Permission.SEE_ALL):
        conditions.append(or_(~_owned(), mine))
    return conditions


def mask(address: str) -> str:
    """A phone number with all but its last 4 digits hidden ("•••• 4321")."""
    return f"•••• {address[-4:]}" if len(address) > 4 else "••••"


def load(session: Session, viewer: User, wanted: QueueFilter, now: datetime, limit: int = PAGE_SIZE) -> Queue:
    """The queue `viewer` may see, filtered by `wanted`, oldest request first (at most `limit` rows)."""
    if not can(viewer, Permission.USE_CONSOLE):
        return Queue([], {}, 0)
    visible = _visible(viewer, wanted.scope)
    counts: dict[str | None, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Conversation.handoff_reason, func.count())
            .where(*visible)
            .group_by(Conversation.handoff_reason)
        ).all()
    )
    page = visible.copy()
    if wanted.reason:
        page.append(Conversation.handoff_reason == wanted.reason)
    conversations = session.scalars(
        select(Conversation)
        .options(joinedload(Conversation.debtor), joinedload(Conversation.assigned_user))
        .where(*page)
        .order_by(Conversation.handoff_requested_at.asc().nulls_last(), Conversation.id)
        .limit(limit)
    ).all()
    debts = _open_debts(session, {c.debtor_id for c in conversations if c.debtor_id is not None})
    entries = [_entry(c, debts.get(c.debtor_id or 0, ((), 0)), now) for c in conversations]
    return Queue(entries, counts, sum(counts.values()))


def _open_debts(session: Session, debtor_ids: set[int]) -> dict[int, tuple[tuple[str, ...], int]]:
    """Per debtor: the creditors of their open invoices and the total open amount (original values)."""
    if not debtor_ids:
        return {}
    rows = session.execute(
        select(
            Invoice.debtor_id,
            func.coalesce(Creditor.trade_name, Creditor.legal_name),
            func.sum(Invoice.amount_cents),
        )
        .join(Creditor, Creditor.id == Invoice.creditor_id)
        .where(Invoice.debtor_id.in_(debtor_ids), Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.debtor_id, Creditor.id, Creditor.trade_name, Creditor.legal_name)
    ).all()
    names: dict[int, list[str]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    for debtor_id, creditor, cents in rows:
        names[debtor_id].append(creditor)
        totals[debtor_id] += int(cents or 0)
    return {d: (tuple(sorted(names[d])), totals[d]) for d in names}


def _entry(c: Conversation, debt: tuple[tuple[str, ...], int], now: datetime) -> Entry:
    owned = c.state == ConversationState.WITH_AGENT and c.assigned_user is not None
    since = c.handoff_requested_at
    window = None
    if c.channel == Channel.WHATSAPP:
        window = whatsapp_window_open(c.last_inbound_at, now)
    return Entry(
        conversation_id=c.id,
        debtor_name=c.debtor.name if c.debtor is not None else None,
        address=mask(c.address),
        channel=c.channel,
        reason=c.handoff_reason,
        priority=c.handoff_reason in PRIORITY_REASONS,
        requested_at=since,
        waiting_seconds=max(0, int((now - since).total_seconds())) if since else 0,
        owner_id=c.assigned_user_id if owned else None,
        owner_name=c.assigned_user.name if owned and c.assigned_user else None,
        creditors=debt[0],
        open_cents=debt[1],
        window_open=window,
    )
