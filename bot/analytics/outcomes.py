"""What a scope's contacts led to, counted once each: promises (and how many were kept), agreements (and
how many broke) and the money recovered (each payment credited to its last reminder only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Subquery, and_, func, or_, select
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


def _promise_kept(session: Session, c: Subquery, seconds: int) -> Rate:
    promises = (
        select(PaymentPromise.id, PaymentPromise.status)
        .join(c, promise_condition(c.c, seconds))
        .distinct()
        .subquery()
    )
    kept = count_where(promises.c.status == PromiseStatus.KEPT)
    resolved = count_where(promises.c.status != PromiseStatus.OPEN)
    row = session.execute(select(kept, resolved).select_from(promises)).one()
    return Rate(int(row[0]), int(row[1]))


def _broken_agreement(session: Session, c: Subquery, seconds: int) -> Rate:
    agreements = (
        select(Agreement.id, Agreement.status)
        .join(c, agreement_condition(c.c, seconds))
        .where(Agreement.status != AgreementStatus.CANCELLED)
        .distinct()
        .subquery()
    )
    broken = count_where(agreements.c.status == AgreementStatus.BROKEN)
    row = session.execute(select(broken, func.count()).select_from(agreements)).one()
    return Rate(int(row[0]), int(row[1]))


def _recovered_cents(session: Session, c: Subquery, seconds: int) -> int:
    """Payments of the contacts' invoices and instalments within the window, each credited to the last
    contact for its invoice or instalment before it (so no payment is counted twice across steps)."""
    payments = (
        select(Payment.id, Payment.amount_cents)
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
    total = session.scalar(select(func.coalesce(func.sum(payments.c.amount_cents), 0)))
    return int(total or 0)


def outcomes(session: Session, c: Subquery, attribution_seconds: int) -> Outcomes:
    """The outcomes of the contacts in `c` (the `contacts` subquery of a scope)."""
    return Outcomes(
        promise_kept=_promise_kept(session, c, attribution_seconds),
        broken_agreement=_broken_agreement(session, c, attribution_seconds),
        recovered_cents=_recovered_cents(session, c, attribution_seconds),
    )
