"""What a scope's contacts led to, counted once each: promises (and how many were kept), agreements (and
how many broke) and the money recovered (each payment credited to its last reminder only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.analytics.contacts import later_contact_of_target
from bot.analytics.reactions import agreement_condition, promise_condition
from bot.analytics.results import Rate
from bot.analytics.sql import count_where, within
from bot.models import Agreement, AgreementStatus, Payment, PaymentPromise, PromiseStatus


@dataclass(frozen=True)
class Outcomes:
    """Promise-kept and broken-agreement rates, and the amount recovered, of one scope."""

    promise_kept: Rate
    broken_agreement: Rate
    recovered_cents: int


def attributed_promises(c: Subquery, seconds: int, *keys: Any) -> Subquery:
    """The promises made within `seconds` after a contact in `c`, once each (per value of the contacts'
    columns `keys`), with their status."""
    return (
        select(*keys, PaymentPromise.id, PaymentPromise.status)
        .join(c, promise_condition(c.c, seconds))
        .distinct()
        .subquery()
    )


def promise_counts(promises: Subquery) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Aggregates over `attributed_promises`: kept, and decided (kept or broken)."""
    kept = count_where(promises.c.status == PromiseStatus.KEPT)
    resolved = count_where(promises.c.status != PromiseStatus.OPEN)
    return kept, resolved


def attributed_agreements(c: Subquery, seconds: int, *keys: Any) -> Subquery:
    """The agreements (cancelled ones left out) made within `seconds` after a contact in `c`, once each
    (per value of `keys`), with their status."""
    return (
        select(*keys, Agreement.id, Agreement.status)
        .join(c, agreement_condition(c.c, seconds))
        .where(Agreement.status != AgreementStatus.CANCELLED)
        .distinct()
        .subquery()
    )


def agreement_counts(agreements: Subquery) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Aggregates over `attributed_agreements`: broken, and all of them."""
    return count_where(agreements.c.status == AgreementStatus.BROKEN), func.count()


def recovered_payments(c: Subquery, seconds: int, *keys: Any) -> Subquery:
    """Payments of the contacts' invoices and instalments within the window, each credited to the last
    contact for its invoice or instalment before it (so no payment is counted twice across steps)."""
    return (
        select(*keys, Payment.id, Payment.amount_cents)
        .join(
            c,
            and_(
                or_(Payment.invoice_id == c.c.invoice_id, Payment.instalment_id == c.c.instalment_id),
                within(Payment.paid_at, c.c.sent_at, seconds),
            ),
        )
        .where(~later_contact_of_target(c.c, Payment.paid_at))
        .distinct()
        .subquery()
    )


def _promise_kept(session: Session, c: Subquery, seconds: int) -> Rate:
    promises = attributed_promises(c, seconds)
    row = session.execute(select(*promise_counts(promises)).select_from(promises)).one()
    return Rate(int(row[0]), int(row[1]))


def _broken_agreement(session: Session, c: Subquery, seconds: int) -> Rate:
    agreements = attributed_agreements(c, seconds)
    row = session.execute(select(*agreement_counts(agreements)).select_from(agreements)).one()
    return Rate(int(row[0]), int(row[1]))


def _recovered_cents(session: Session, c: Subquery, seconds: int) -> int:
    payments = recovered_payments(c, seconds)
    total = session.scalar(select(func.coalesce(func.sum(payments.c.amount_cents), 0)))
    return int(total or 0)


def outcomes(session: Session, c: Subquery, attribution_seconds: int) -> Outcomes:
    """The outcomes of the contacts in `c` (the `contacts` subquery of a scope)."""
    return Outcomes(
        promise_kept=_promise_kept(session, c, attribution_seconds),
        broken_agreement=_broken_agreement(session, c, attribution_seconds),
        recovered_cents=_recovered_cents(session, c, attribution_seconds),
    )
