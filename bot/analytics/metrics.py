"""The entry points: every metric of one scope (`collection_metrics`), or of each value of a dimension
(`breakdown`: per step, channel, variant, creditor or segment). The dashboard, experiments, `regua report`
and `/metrics` all ask here, so each number has one definition (docs/metrics.md)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.analytics.contacts import contacts, scoped
from bot.analytics.costs import costs, priced
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


def contact_flags(c: Any, scope: Scope) -> dict[str, ColumnElement[bool]]:
    """Per-contact conditions over the contacts' columns `c` (joined with their `Message`), by name: what
    each contact led to within the scope's windows. `collection_metrics` and the precomputed aggregates
    (bot.analytics.daily) count the same ones."""
    response, attribution = scope.windows.response_seconds, scope.windows.attribution_seconds
    return {
        "delivered": delivered(Message),
        "read": read(Message),
        "replied": replied(c, response),
        "opened": page_opened(c, attribution),
        "pix": copied(c, PageEvent.PIX_COPIED, attribution),
        "line": copied(c, PageEvent.LINE_COPIED, attribution),
        "promised": promised(c, attribution),
        "agreed": agreed(c, attribution),
        "paid": paid(c, attribution),
        "opted_out": opted_out(c, response),
        "complained": handed_off(c, response, complaints_only=True),
        "handed_off": handed_off(c, response),
    }


def collection_metrics(session: Session, scope: Scope, prices: Prices) -> CollectionMetrics:
    """Every metric of `scope` (see docs/metrics.md); rates without data say "sem dados"."""
    for_analytics(session)
    c = contacts(scope)
    attribution = scope.windows.attribution_seconds
    flags = contact_flags(c.c, scope)
    stmt = select(
        func.count().label("contacts"),
        func.count(func.distinct(c.c.message_id)).label("messages"),
        *(count_where(condition).label(name) for name, condition in flags.items()),
    ).join_from(c, Message, Message.id == c.c.message_id)
    counts = dict(session.execute(stmt).one()._mapping)
    done = outcomes(session, c, attribution)
    spent = costs(session, c, prices)
    counts.update(
        promises_kept=done.promise_kept.numerator,
        promises_resolved=done.promise_kept.denominator,
        agreements_broken=done.broken_agreement.numerator,
        agreements_counted=done.broken_agreement.denominator,
        recovered_cents=done.recovered_cents,
        sms_segments=spent.sms_segments,
        whatsapp_conversations=spent.whatsapp_conversations,
    )
    return metrics_of(counts, prices)


def metrics_of(counts: Mapping[str, int], prices: Prices) -> CollectionMetrics:
    """The metrics of a scope's counts (those of `contact_flags`, plus contacts, messages, promises kept
    and decided, agreements broken and counted, centavos recovered, SMS segments and WhatsApp
    conversations): the one place the rates are divided, for the live metrics and the aggregates' sums."""
    total = int(counts["contacts"])

    def of_contacts(name: str, per: int = 1) -> Rate:
        return Rate(int(counts[name]), total, per)

    return CollectionMetrics(
        contacts=total,
        messages=int(counts["messages"]),
        delivery=of_contacts("delivered"),
        read=Rate(int(counts["read"]), int(counts["delivered"])),
        response=of_contacts("replied"),
        page_opened=of_contacts("opened"),
        pix_copied=of_contacts("pix"),
        line_copied=of_contacts("line"),
        promise_to_pay=of_contacts("promised"),
        promise_kept=Rate(int(counts["promises_kept"]), int(counts["promises_resolved"])),
        agreement=of_contacts("agreed"),
        broken_agreement=Rate(int(counts["agreements_broken"]), int(counts["agreements_counted"])),
        collection=of_contacts("paid"),
        recovered_cents=int(counts["recovered_cents"]),
        opt_out=of_contacts("opted_out", 1000),
        complaint=of_contacts("complained", 1000),
        handoff=of_contacts("handed_off"),
        costs=priced(int(counts["sms_segments"]), int(counts["whatsapp_conversations"]), prices),
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
