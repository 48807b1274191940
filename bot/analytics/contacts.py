"""The contacts a scope counts: reminder steps sent to a debtor (outbox rows that reached the provider).

A contact is one step of one invoice or instalment: a combined message covering three invoices is three
contacts (docs/metrics.md, "What counts as a contact"). A row whose message failed for good still counts
(it is the delivery rate's failure); a row whose channel fell back counts once, for the channel that
carried it last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, select
from sqlalchemy.orm import aliased

from bot.analytics.scope import UNSET, Scope
from bot.models import Debtor, OutboxEntry, OutboxStatus

# A row marked sent keeps `sent_at` and its message; a failed one keeps them too (the message failed).
CONTACT_STATUSES = (OutboxStatus.SENT, OutboxStatus.FAILED)


def is_contact(entry: Any) -> ColumnElement[bool]:
    """True for an outbox row (the model or an alias of it) that is a contact, whenever it was sent."""
    return and_(entry.sent_at.is_not(None), entry.message_id.is_not(None), entry.status.in_(CONTACT_STATUSES))


def scoped(scope: Scope) -> Select[Any]:
    """The contacts of `scope`: sent in its period and matching its filters, one row per outbox row."""
    filters = scope.filters
    stmt = (
        select(
            OutboxEntry.id,
            OutboxEntry.invoice_id,
            OutboxEntry.instalment_id,
            OutboxEntry.debtor_id,
            OutboxEntry.creditor_id,
            OutboxEntry.step_id,
            OutboxEntry.channel,
            OutboxEntry.variant,
            OutboxEntry.message_id,
            OutboxEntry.sent_at,
            Debtor.segment,
        )
        .join(Debtor, Debtor.id == OutboxEntry.debtor_id)
        .where(
            is_contact(OutboxEntry),
            OutboxEntry.sent_at >= scope.period.start,
            OutboxEntry.sent_at < scope.period.end,
        )
    )
    return narrowed(
        stmt,
        (OutboxEntry.creditor_id, filters.creditor_id),
        (OutboxEntry.step_id, filters.step_id),
        (OutboxEntry.channel, filters.channel),
        (OutboxEntry.variant, filters.variant),
        (Debtor.segment, filters.segment),
    )


def narrowed(stmt: Select[Any], *conditions: tuple[Any, object]) -> Select[Any]:
    """`stmt` with each (column, filter value): None leaves it out, `UNSET` keeps rows without a value."""
    for column, value in conditions:
        if value == UNSET:
            stmt = stmt.where(column.is_(None))
        elif value is not None:
            stmt = stmt.where(column == value)
    return stmt


def contacts(scope: Scope) -> Subquery:
    """`scoped(scope)` as a subquery named `contacts`, for the metrics to select from."""
    return scoped(scope).subquery("contacts")


def later_contact_of_target(contact: Any, moment: Any) -> ColumnElement[bool]:
    """True when another contact for the same invoice or instalment as `contact` was sent after it, up to
    `moment` (then an event at `moment` belongs to that later contact: last touch)."""
    later = aliased(OutboxEntry)
    return (
        select(later.id)
        .where(
            is_contact(later),
            (later.invoice_id == contact.invoice_id) | (later.instalment_id == contact.instalment_id),
            later.sent_at > contact.sent_at,
            later.sent_at <= moment,
        )
        .exists()
    )
