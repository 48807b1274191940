"""The entry points: every metric of one scope (`collection_metrics`), or of each value of a dimension
(`breakdown`: per step, channel, variant, creditor or segment). The dashboard, experiments, `regua report`
and `/metrics` all ask here, so each number has one definition (docs/metrics.md)."""

from __future__ import annotations

import enum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.analytics.contacts import contacts, scoped
from bot.analytics.costs import costs
from bot.analytics.outcomes import outcomes
from bot.analytics.reactions import (
    agreed,
    copied,
    delivered,
    handed_off,
    opted_out,
    page_opened,
    paid,
    promised,
    read,
    replied,
)
from bot.analytics.results import CollectionMetrics, Rate, Slice
from bot.analytics.scope import UNSET, Prices, Scope
from bot.analytics.sql import count_where, for_analytics
from bot.models import Message, PageEvent


class Dimension(enum.StrEnum):
    """What a breakdown slices by; each value is a field of `Filters` and a column of the contacts."""

    CREDITOR = "creditor_id"
    STEP = "step_id"
    CHANNEL = "channel"
    VARIANT = "variant"
    SEGMENT = "segment"


def collection_metrics(session: Session, scope: Scope, prices: Prices) -> CollectionMetrics:
    """Every metric of `scope` (see docs/metrics.md); rates without data say "sem dados"."""
    for_analytics(session)
    c = contacts(scope)
    response, attribution = scope.windows.response_seconds, scope.windows.attribution_seconds
    flags = {
        "delivered": delivered(Message),
        "read": read(Message),
        "replied": replied(c.c, response),
        "opened": page_opened(c.c, attribution),
        "pix": copied(c.c, PageEvent.PIX_COPIED, attribution),
        "line": copied(c.c, PageEvent.LINE_COPIED, attribution),
        "promised": promised(c.c, attribution),
        "agreed": agreed(c.c, attribution),
        "paid": paid(c.c, attribution),
        "opted_out": opted_out(c.c, response),
        "complained": handed_off(c.c, response, complaints_only=True),
        "handed_off": handed_off(c.c, response),
    }
    stmt = select(
        func.count().label("contacts"),
        func.count(func.distinct(c.c.message_id)).label("messages"),
        *(count_where(condition).label(name) for name, condition in flags.items()),
    ).join_from(c, Message, Message.id == c.c.message_id)
    row = session.execute(stmt).one()._mapping
    total = int(row["contacts"])

    def of_contacts(name: str, per: int = 1) -> Rate:
        return Rate(int(row[name]), total, per)

    done = outcomes(session, c, attribution)
    return CollectionMetrics(
        contacts=total,
        messages=int(row["messages"]),
        delivery=of_contacts("delivered"),
        read=Rate(int(row["read"]), int(row["delivered"])),
        response=of_contacts("replied"),
        page_opened=of_contacts("opened"),
        pix_copied=of_contacts("pix"),
        line_copied=of_contacts("line"),
        promise_to_pay=of_contacts("promised"),
        promise_kept=done.promise_kept,
        agreement=of_contacts("agreed"),
        broken_agreement=done.broken_agreement,
        collection=of_contacts("paid"),
        recovered_cents=done.recovered_cents,
        opt_out=of_contacts("opted_out", 1000),
        complaint=of_contacts("complained", 1000),
        handoff=of_contacts("handed_off"),
        costs=costs(session, c, prices),
    )


def breakdown(session: Session, scope: Scope, prices: Prices, by: Dimension) -> list[Slice]:
    """The metrics of `scope` for each value of `by` among its contacts (in order; None last)."""
    values = scoped(scope).subquery()
    column = values.c[by.value]
    keys = list(session.scalars(select(column).distinct()))
    keys.sort(key=lambda key: (key is None, key))
    return [
        Slice(
            key, collection_metrics(session, scope.narrowed(by.value, UNSET if key is None else key), prices)
        )
        for key in keys
    ]
