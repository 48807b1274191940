"""What each contact led to, as SQL conditions on one row of the `contacts` subquery (`c`).

Each flag is decided per contact: a reply within the response window after it, a payment within the
attribution window after it, and so on (docs/metrics.md gives each definition). An event may count for
two contacts (two invoices reminded in one message, or two steps a few days apart): rates count contacts,
and the outcomes that add up (amounts, promises, agreements) are counted once in `outcomes`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, or_, select
from sqlalchemy.orm import aliased

from bot.analytics.sql import within
from bot.conversation.handoff import HANDOFF_REQUESTED, PRIORITY_REASONS
from bot.models import (
    Agreement,
    AuditLog,
    Conversation,
    Direction,
    Instalment,
    Invoice,
    Message,
    MessageStatus,
    OptOutAction,
    OptOutEvent,
    PageEvent,
    PaymentLink,
    PaymentLinkView,
    PaymentPageEvent,
    PaymentPromise,
)


def delivered(message: Any) -> ColumnElement[bool]:
    """The contact's message reached the phone (delivered, or read, which implies it)."""
    return or_(
        message.delivered_at.is_not(None),
        message.read_at.is_not(None),
        message.status.in_((MessageStatus.DELIVERED, MessageStatus.READ)),
    )


def read(message: Any) -> ColumnElement[bool]:
    """The contact's message was read (WhatsApp's read receipt; SMS has none)."""
    return or_(message.read_at.is_not(None), message.status == MessageStatus.READ)


def replied(c: Any, seconds: int) -> ColumnElement[bool]:
    """The debtor wrote to us, on any channel, within `seconds` after the contact."""
    # An alias: the metrics' query selects from `messages` too, and would correlate this one with it.
    inbound = aliased(Message)
    return (
        select(inbound.id)
        .join(Conversation, Conversation.id == inbound.conversation_id)
        .where(
            Conversation.debtor_id == c.debtor_id,
            inbound.direction == Direction.INBOUND,
            within(inbound.created_at, c.sent_at, seconds),
        )
        .exists()
    )


def _same_target(c: Any) -> ColumnElement[bool]:
    """A payment link of the contact's invoice or instalment (NULL never equals NULL)."""
    return or_(PaymentLink.invoice_id == c.invoice_id, PaymentLink.instalment_id == c.instalment_id)


def page_opened(c: Any, seconds: int) -> ColumnElement[bool]:
    """A payment page of the contact's invoice or instalment was opened within `seconds` after it."""
    return (
        select(PaymentLinkView.id)
        .join(PaymentLink, PaymentLink.id == PaymentLinkView.link_id)
        .where(_same_target(c), within(PaymentLinkView.opened_at, c.sent_at, seconds))
        .exists()
    )


def copied(c: Any, kind: PageEvent, seconds: int) -> ColumnElement[bool]:
    """The Pix code (`pix_copied`) or the linha digitável (`line_copied`) of the contact's invoice or
    instalment was copied from its payment page within `seconds` after it."""
    return (
        select(PaymentPageEvent.id)
        .join(PaymentLink, PaymentLink.id == PaymentPageEvent.link_id)
        .where(
            _same_target(c),
            PaymentPageEvent.kind == kind,
            within(PaymentPageEvent.occurred_at, c.sent_at, seconds),
        )
        .exists()
    )


def promise_condition(c: Any, seconds: int) -> ColumnElement[bool]:
    """`PaymentPromise` made by the contact's debtor to its creditor within `seconds` after it."""
    return (
        (PaymentPromise.debtor_id == c.debtor_id)
        & (PaymentPromise.creditor_id == c.creditor_id)
        & within(PaymentPromise.created_at, c.sent_at, seconds)
    )


def agreement_condition(c: Any, seconds: int) -> ColumnElement[bool]:
    """`Agreement` made by the contact's debtor with its creditor within `seconds` after it."""
    return (
        (Agreement.debtor_id == c.debtor_id)
        & (Agreement.creditor_id == c.creditor_id)
        & within(Agreement.created_at, c.sent_at, seconds)
    )


def promised(c: Any, seconds: int) -> ColumnElement[bool]:
    """The debtor promised its creditor to pay on a date, within `seconds` after the contact."""
    return select(PaymentPromise.id).where(promise_condition(c, seconds)).exists()


def agreed(c: Any, seconds: int) -> ColumnElement[bool]:
    """The debtor closed an agreement with its creditor within `seconds` after the contact."""
    return select(Agreement.id).where(agreement_condition(c, seconds)).exists()


def paid(c: Any, seconds: int) -> ColumnElement[bool]:
    """The contact's invoice or instalment was paid within `seconds` after it."""
    invoice_paid = (
        select(Invoice.id)
        .where(Invoice.id == c.invoice_id, within(Invoice.paid_at, c.sent_at, seconds))
        .exists()
    )
    instalment_paid = (
        select(Instalment.id)
        .where(Instalment.id == c.instalment_id, within(Instalment.paid_at, c.sent_at, seconds))
        .exists()
    )
    return or_(invoice_paid, instalment_paid)


def opted_out(c: Any, seconds: int) -> ColumnElement[bool]:
    """The debtor opted out of a channel (keyword, NLU, agent...) within `seconds` after the contact."""
    return (
        select(OptOutEvent.id)
        .where(
            OptOutEvent.debtor_id == c.debtor_id,
            OptOutEvent.action == OptOutAction.OPT_OUT,
            within(OptOutEvent.created_at, c.sent_at, seconds),
        )
        .exists()
    )


def handed_off(c: Any, seconds: int, *, complaints_only: bool = False) -> ColumnElement[bool]:
    """A conversation of the debtor was handed to a person within `seconds` after the contact (with
    `complaints_only`, for a complaint or a legal threat: bot.conversation.complaints)."""
    stmt = (
        select(AuditLog.id)
        .join(Conversation, AuditLog.entity_id == cast(Conversation.id, String))
        .where(
            AuditLog.action == HANDOFF_REQUESTED,
            AuditLog.entity_type == "conversation",
            Conversation.debtor_id == c.debtor_id,
            within(AuditLog.created_at, c.sent_at, seconds),
        )
    )
    if complaints_only:
        stmt = stmt.where(AuditLog.details["reason"].as_string().in_(PRIORITY_REASONS))
    return stmt.exists()
