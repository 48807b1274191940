"""Campaign previews (what would go out on a day, with SMS segments and cost) and the outbox status.

The preview counts what the planner would plan for the day, per step, predicted channel (the first of
the step's channels the debtor allows: WhatsApp needs consent, neither may be opted out) and A/B variant
(the same deterministic choice the dispatcher makes; a step's holdout is its own line, variant
`holdout`, costing nothing). SMS segments are counted on each step's text
rendered with typical values (a first name of 8 letters, an amount in the thousands, a payment link), so
the cost is an estimate; the contact window and the frequency caps may move some messages to later days.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import Debtor, Invoice, InvoiceStatus, OutboxEntry, utcnow
from bot.money import format_brl
from bot.reminders import sms
from bot.reminders.cadence import HOLDOUT, Step, assignment_key, in_holdout, pick_variant, render_sms
from bot.reminders.planner import cadences_in_use

TYPICAL_VALUES = {
    "nome": "Fernanda",
    "valor": "R$ 1.234,56",
    "data": "10/12/2026",
    "credor": "Magazine Horizonte",
    "cnpj": "41.820.537/0001-85",
    "link": "https://regua.example.com.br/p/" + "x" * 32,
}


@dataclass(frozen=True)
class PreviewRow:
    """Reminders of one step on one channel (and variant)."""

    step_id: str
    channel: str
    variant: str | None
    count: int
    sms_segments: int  # per message
    cost_cents: int

    @property
    def cost_text(self) -> str:
        """The estimated SMS cost in reais."""
        return format_brl(self.cost_cents)


@dataclass(frozen=True)
class Preview:
    """A day's preview."""

    day: date
    rows: list[PreviewRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Reminders in the preview."""
        return sum(r.count for r in self.rows)

    @property
    def cost_text(self) -> str:
        """The total estimated SMS cost."""
        return format_brl(sum(r.cost_cents for r in self.rows))


def _channel_case(step: Step) -> object:
    """SQL: the first of the step's channels the debtor allows ("none" if no channel is allowed)."""
    allowed = {
        "whatsapp": and_(
            Debtor.whatsapp_consent_at.is_not(None),
            or_(
                Debtor.whatsapp_opted_out_at.is_(None),
                Debtor.whatsapp_opted_out_at < Debtor.whatsapp_consent_at,
            ),
        ),
        "sms": Debtor.sms_opted_out_at.is_(None),
    }
    return case(*[(allowed[c], c) for c in step.channels], else_="none")


def _sms_text(step: Step, variant_id: str | None, settings: Settings) -> str | None:
    variant = step.variant(variant_id) if variant_id else None
    text = step.sms_for(variant)
    if text is None:
        return None
    rendered = render_sms(text, TYPICAL_VALUES)
    return sms.to_gsm7(rendered) if settings.sms_economy else rendered


def _step_rows(
    session: Session, settings: Settings, step: Step, creditor_ids: list[int], day: date
) -> list[PreviewRow]:
    due = day - timedelta(days=step.offset_days)
    channel = _channel_case(step).label("channel")  # type: ignore[attr-defined]
    query = (
        select(Invoice.debtor_id, channel)
        .join(Debtor, Debtor.id == Invoice.debtor_id)
        .where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.due_date == due,
            Invoice.creditor_id.in_(creditor_ids),
            Debtor.reminders_paused_at.is_(None),  # the planner plans nothing for a paused debtor
        )
    )
    counts: Counter[tuple[str, str | None]] = Counter()
    if step.is_experiment:
        for debtor_id, chosen in session.execute(query):
            if in_holdout(step, debtor_id):
                counts[(chosen, HOLDOUT)] += 1  # planned, but nothing is sent
                continue
            variant = pick_variant(step, assignment_key(debtor_id, step))
            counts[(chosen, variant.id if variant else None)] += 1
    else:
        rows_of_day = query.subquery()
        grouped = select(rows_of_day.c.channel, func.count()).group_by(rows_of_day.c.channel)
        for chosen, count in session.execute(grouped):
            counts[(chosen, None)] += count
    price = Decimal(settings.sms_price_per_segment)
    rows = []
    for (chosen, variant_id), count in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        segments = 0
        if chosen == "sms" and variant_id != HOLDOUT:
            text = _sms_text(step, variant_id, settings)
            segments = sms.segments(text).segments if text else 0
        cost = sms.estimate_cost(segments * count, price) if segments else 0
        rows.append(PreviewRow(step.id, chosen, variant_id, count, segments, cost))
    return rows


def preview(session: Session, settings: Settings, day: date | None = None) -> Preview:
    """What the régua would send on `day` (default: today in Brasília)."""
    day = day or local_date(utcnow(), DEFAULT_TZ)
    rows: list[PreviewRow] = []
    warnings: list[str] = []
    for cadence, creditor_ids in cadences_in_use(session):
        warnings.extend(cadence.warnings)
        for step in cadence.steps:
            rows.extend(_step_rows(session, settings, step, creditor_ids, day))
    skipped = sum(r.count for r in rows if r.channel == "none")
    if skipped:
        warnings.append(
            f"{skipped} lembrete(s) sem canal permitido (opt-out ou sem consentimento) não sairão."
        )
    return Preview(day, rows, sorted(set(warnings)))


def status(session: Session) -> list[tuple[str, str, str | None, int]]:
    """(step, status, channel, count) over the whole outbox."""
    rows = session.execute(
        select(OutboxEntry.step_id, OutboxEntry.status, OutboxEntry.channel, func.count())
        .group_by(OutboxEntry.step_id, OutboxEntry.status, OutboxEntry.channel)
        .order_by(OutboxEntry.step_id, OutboxEntry.status)
    ).all()
    return [
        (step, str(getattr(state, "value", state)), channel, count) for step, state, channel, count in rows
    ]
