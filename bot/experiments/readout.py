"""An experiment's readout: the arms of one creditor's cadence step over a period, from the database.

The conversion is bot.analytics' collection rate (docs/metrics.md): a contact converts when its invoice or
instalment is paid within the attribution window after it. The arms are the step's variants (the
`variant` of its contacts), or the step's own message when it has none, and its holdout: rows the
dispatcher held out at the moment their message would have gone (bot.reminders.outbox_rows.hold_out),
measured with the same condition from that moment. Only contacts whose whole window has passed count,
so a recent week does not drag the rates down while its payments are still coming in.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.analytics import Filters, Period, Scope, Windows
from bot.analytics.contacts import contacts
from bot.analytics.reactions import paid
from bot.analytics.sql import count_where, for_analytics
from bot.experiments.results import MESSAGE_ARM, Arm, Readout
from bot.experiments.statistics import arm, compare, missing
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import Creditor, OutboxEntry, OutboxStatus, utcnow
from bot.reminders.cadence import HOLDOUT, Step
from bot.reminders.planner import cadence_for


class ExperimentError(ValueError):
    """The experiment asked about does not exist or cannot be changed that way (the message says why)."""


def matured(period: Period, windows: Windows, today: date) -> Period | None:
    """The part of `period` whose contacts have had their whole attribution window by `today` (a contact
    of day D, up to its last minute, has had it from day D + window + 1), or None when none has."""
    last = min(period.last_day, today - timedelta(days=windows.attribution_days + 1))
    return Period(period.first_day, last) if last >= period.first_day else None


def experiment_steps(session: Session, creditor_id: int) -> list[Step]:
    """The steps of the creditor's cadence that run an experiment (variants or a holdout), in order."""
    creditor = session.get(Creditor, creditor_id)
    if creditor is None:
        raise ExperimentError(f"credor {creditor_id} não encontrado")
    return [step for step in cadence_for(creditor).steps if step.is_experiment]


def _step_of(session: Session, creditor_id: int, step_id: str) -> Step | None:
    """The step in the creditor's cadence today (None once removed: its past data can still be read)."""
    creditor = session.get(Creditor, creditor_id)
    if creditor is None:
        raise ExperimentError(f"credor {creditor_id} não encontrado")
    try:
        return cadence_for(creditor).step(step_id)
    except KeyError:
        return None


def _counts(session: Session, scope: Scope) -> tuple[dict[str | None, tuple[int, int]], tuple[int, int]]:
    """{variant: (contacts, paid)} of the scope's contacts, and (rows, paid) of its holdout."""
    seconds = scope.windows.attribution_seconds
    c = contacts(scope)
    by_variant = {
        variant: (int(n), int(converted))
        for variant, n, converted in session.execute(
            select(c.c.variant, func.count(), count_where(paid(c.c, seconds))).group_by(c.c.variant)
        )
    }
    filters = scope.filters
    held = (
        select(OutboxEntry.invoice_id, OutboxEntry.instalment_id, OutboxEntry.sent_at)
        .where(
            OutboxEntry.creditor_id == filters.creditor_id,
            OutboxEntry.step_id == filters.step_id,
            OutboxEntry.variant == HOLDOUT,
            OutboxEntry.status == OutboxStatus.SKIPPED,
            OutboxEntry.note == HOLDOUT,
            OutboxEntry.sent_at >= scope.period.start,
            OutboxEntry.sent_at < scope.period.end,
        )
        .subquery("held_out")
    )
    n, converted = session.execute(
        select(func.count(), count_where(paid(held.c, seconds))).select_from(held)
    ).one()
    return by_variant, (int(n), int(converted))


def _arm_ids(step: Step | None, by_variant: dict[str | None, Any]) -> list[str]:
    """The treated arms in reading order: the cadence's variants first, then any other variant found in
    the data (a variant removed since), or the step's own message when there are no variants."""
    found = sorted(key for key in by_variant if key is not None)
    ordered = [v.id for v in step.variants] if step is not None else []
    ids = ordered + [key for key in found if key not in ordered]
    if not ids and (None in by_variant or (step is not None and step.holdout)):
        ids = [MESSAGE_ARM]
    return ids


def readout(
    session: Session,
    creditor_id: int,
    step_id: str,
    period: Period,
    *,
    windows: Windows | None = None,
    today: date | None = None,
    control: str | None = None,
    alpha: float = 0.05,
    planned_per_arm: int | None = None,
) -> Readout:
    """The readout of the experiment of `step_id` in the creditor's cadence over `period`.

    `control` defaults to the cadence's first variant with contacts (or the step's message when it has no
    variants); `planned_per_arm` defaults to the step's `sample_size`; `today` (Brasília) decides which
    contacts have had their whole window. Raises `ExperimentError` for an unknown creditor or control."""
    windows = windows or Windows()
    today = today or local_date(utcnow(), DEFAULT_TZ)
    step = _step_of(session, creditor_id, step_id)
    if planned_per_arm is None and step is not None:
        planned_per_arm = step.sample_size
    usable = matured(period, windows, today)
    by_variant: dict[str | None, tuple[int, int]] = {}
    holdout = (0, 0)
    if usable is not None:
        for_analytics(session)
        scope = Scope(usable, Filters(creditor_id=creditor_id, step_id=step_id), windows)
        by_variant, holdout = _counts(session, scope)
    ids = _arm_ids(step, by_variant)
    if not ids:
        raise ExperimentError(f"a etapa {step_id!r} não está na régua do credor nem tem contatos no período")
    control_id = control or ids[0]
    if control_id not in ids:
        raise ExperimentError(f"o controle {control_id!r} não é um braço desta etapa ({', '.join(ids)})")
    arms: list[Arm] = []
    for arm_id in ids:
        n, converted = by_variant.get(None if arm_id == MESSAGE_ARM else arm_id, (0, 0))
        arms.append(arm(arm_id, n, converted, alpha, control=arm_id == control_id))
    if holdout[0] or (step is not None and step.holdout):
        arms.append(arm(HOLDOUT, *holdout, alpha, holdout=True))
    excluded = by_variant.get(None, (0, 0))[0] if MESSAGE_ARM not in ids else 0
    reasons = ["nenhum contato cuja janela de atribuição já terminou"] if usable is None else []
    reasons = reasons or missing(arms, planned_per_arm)
    comparisons, correction = compare(arms, alpha) if not reasons else ((), None)
    return Readout(
        creditor_id=creditor_id,
        step_id=step_id,
        requested_period=period,
        period=usable,
        attribution_days=windows.attribution_days,
        alpha=alpha,
        planned_per_arm=planned_per_arm,
        arms=tuple(arms),
        comparisons=comparisons,
        enough_data=not reasons,
        reasons=tuple(reasons),
        correction=correction,
        excluded=excluded,
    )
