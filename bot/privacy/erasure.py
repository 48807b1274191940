"""Anonymisation on request (LGPD art. 18 IV and VI): the person disappears, the debt's history stays.

What goes: name, CPF, e-mail, phone numbers, WhatsApp id, notes, UF, the creditor's segment (free text
that could describe the person); the numbers of their conversations;
the bodies, media links and template variables of every message; case evidence and agents' notes; the
browser descriptions of their payment-page visits (and the links stop working); Rasa's trackers.

What stays, without identifying data (the creditor must keep it: LGPD art. 16 I and art. 7 II, the
Civil Code's limitation periods, tax records): invoices, amounts, payments, agreements and their terms,
message rows (dates, channels, statuses), cases (kind, dates), the audit log, and the opt-out history.
Opt-out events keep a keyed hash (HMAC) of the number instead of the number: the reminders' opt-out
check hashes the numbers it is about to message with the same key, so the person's "PARAR" still holds
for their number. Erasure itself adds such an opt-out on both channels (an erased person is never
messaged again), stops their pending reminders, and leaves a keyed hash of the CPF, so a repeated
request is a no-op and an old file cannot bring the CPF back without the creditor knowing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot import audit
from bot.models import (
    Case,
    Channel,
    Debtor,
    Instalment,
    Invoice,
    Message,
    OptOutAction,
    OptOutEvent,
    OutboxEntry,
    OutboxStatus,
    PaymentLink,
    PaymentLinkView,
    utcnow,
)
from bot.models.agreements import Agreement
from bot.privacy.subjects import (
    ERASED_NAME,
    addresses_of,
    conversations_of,
    keyed_hash,
    opt_outs_of,
    random_address_token,
    random_cpf_token,
)
from bot.rasa.server import RASA_KEY_PREFIX

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (counts only: this goes to the audit log and the operator's screen)."""

    debtor_id: int
    erased_at: datetime
    already_erased: bool = False
    conversations: int = 0
    messages: int = 0
    opt_out_events: int = 0
    reminders_stopped: int = 0
    cases: int = 0
    link_views: int = 0
    conversation_ids: tuple[int, ...] = ()

    def audit_details(self) -> dict[str, int]:
        """Counts for the audit log."""
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "opt_out_events": self.opt_out_events,
            "reminders_stopped": self.reminders_stopped,
            "cases": self.cases,
            "link_views": self.link_views,
        }


def redact_messages(session: Session, where: object, now: datetime) -> int:
    """Blank body, media, template variables and provider error text of the matching messages."""
    result = session.execute(
        update(Message)
        .where(where)  # type: ignore[arg-type]
        .values(
            body="", media=[], content_variables=None, error_message=None, redacted_at=now, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def hash_opt_out_addresses(session: Session, events: list[OptOutEvent], key: bytes) -> None:
    """Replace the numbers of these opt-out events by their keyed hash (already hashed ones stay)."""
    for event in events:
        if event.address.startswith("+"):
            event.address = keyed_hash(key, event.address)


def erase(
    session: Session, debtor: Debtor, *, key: bytes, actor: str, now: datetime | None = None
) -> Erasure:
    """Anonymise `debtor` and everything that identifies them; idempotent (a second call changes nothing
    and says so). The caller commits; `forget_trackers` then clears Rasa's copies."""
    now = now or utcnow()
    if debtor.erased_at is not None:
        return Erasure(debtor.id, debtor.erased_at, already_erased=True)

    addresses = sorted(addresses_of(debtor))
    conversations = conversations_of(session, debtor)
    conversation_ids = [c.id for c in conversations]
    events = opt_outs_of(session, debtor)
    # The person's own opt-out on every number and channel: kept (hashed) so it outlives the erasure.
    for address in addresses:
        for channel in (Channel.WHATSAPP, Channel.SMS):
            event = OptOutEvent(
                debtor_id=debtor.id,
                channel=channel,
                address=address,
                action=OptOutAction.OPT_OUT,
                source="erasure",
            )
            session.add(event)
            events.append(event)
    hash_opt_out_addresses(session, events, key)

    messages = (
        redact_messages(session, Message.conversation_id.in_(conversation_ids), now)
        if conversation_ids
        else 0
    )
    for conversation in conversations:
        conversation.address = random_address_token()
        conversation.redacted_at = now

    cases = list(session.scalars(select(Case).where(Case.debtor_id == debtor.id)))
    for case in cases:
        case.evidence, case.note = [], None
        case.resolution = None if case.resolution is None else "[anonimizado]"

    invoice_ids = select(Invoice.id).where(Invoice.debtor_id == debtor.id)
    instalment_ids = select(Instalment.id).join(Agreement).where(Agreement.debtor_id == debtor.id)
    links = select(PaymentLink.id).where(
        or_(PaymentLink.invoice_id.in_(invoice_ids), PaymentLink.instalment_id.in_(instalment_ids))
    )
    views = session.execute(
        update(PaymentLinkView)
        .where(PaymentLinkView.link_id.in_(links), PaymentLinkView.user_agent.is_not(None))
        .values(user_agent=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(PaymentLink)
        .where(PaymentLink.id.in_(links), PaymentLink.expires_at > now)
        .values(expires_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    stopped = session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.debtor_id == debtor.id, OutboxEntry.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SKIPPED, note="erased", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount

    cpf = debtor.cpf
    debtor.erased_key = keyed_hash(key, cpf)
    debtor.erased_at = now
    debtor.cpf = random_cpf_token()
    debtor.name = ERASED_NAME
    debtor.email = debtor.phone_secondary = debtor.whatsapp_id = debtor.notes = debtor.state = None
    debtor.segment = None
    debtor.reminders_pause_note = None  # an agent wrote it: it may name the person
    debtor.phone = ""
    # The identity check's memory names the number the CPF digits came from (bot.conversation.identity).
    debtor.verified_at = debtor.verified_phone = debtor.verification_failed_at = None
    debtor.verification_failures = 0
    # A reminder already claimed by a dispatcher re-checks these flags right before sending.
    debtor.whatsapp_opted_out_at = debtor.whatsapp_opted_out_at or now
    debtor.sms_opted_out_at = debtor.sms_opted_out_at or now

    erasure = Erasure(
        debtor.id,
        now,
        conversations=len(conversations),
        messages=messages,
        opt_out_events=len(events),
        reminders_stopped=stopped or 0,
        cases=len(cases),
        link_views=views or 0,
        conversation_ids=tuple(conversation_ids),
    )
    audit.record(session, actor, "lgpd.erase", "debtor", debtor.id, **erasure.audit_details())
    session.flush()
    return erasure


def tracker_keys(conversation_ids: tuple[int, ...] | list[int]) -> list[str]:
    """The Redis keys of Rasa's trackers of these conversations (Rasa's sender id is the conversation id)."""
    return [f"{RASA_KEY_PREFIX}:tracker:{conversation_id}" for conversation_id in conversation_ids]


def forget_trackers(redis_url: str | None, conversation_ids: tuple[int, ...] | list[int]) -> int:
    """Delete Rasa's trackers of these conversations from Redis; returns how many were there.

    Rasa keeps its trackers in Redis only when REDIS_URL is set (`bot.rasa.server`); without it they
    live in Rasa's memory, gone at its next restart."""
    if not conversation_ids or not redis_url:
        return 0
    conn = redis.Redis.from_url(redis_url)
    try:
        return int(conn.delete(*tracker_keys(conversation_ids)))
    finally:
        conn.close()
