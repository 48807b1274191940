"""The planner: due cadence steps become outbox rows, in one set-based INSERT ... SELECT per step.

For every step of every cadence in use, the rows to create are the open invoices (and open instalments
of active agreements) whose due date plus the step's offset falls within the planning window: today,
or up to `CATCH_UP_DAYS` back (a planner that was down for a day catches up; older steps are not sent
late). `INSERT ... SELECT ... ON CONFLICT DO NOTHING` against the unique (invoice, step) and
(instalment, step) constraints makes planning idempotent: run it every minute, from any number of
schedulers, and a step is still planned exactly once. Rows are committed before anything is sent.

A step with a holdout (`holdout: 10` in the cadence) has the rows of its holdout debtors marked right
after they are planned (variant `holdout`): the dispatcher re-checks them like any row and records, instead
of sending, the moment their message would have gone (docs/experiments.md).

Renegotiation steps (tone `negociacao`) are not planned for agreement instalments: they are already an
agreement. Debtors an agent paused the régua for (`Debtor.reminders_paused_at`) get no rows. Whether a
row is really sent is decided by the dispatcher right before sending (paid? opted out? paused? inside
the contact window?).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.models import (
    Agreement,
    AgreementStatus,
    Creditor,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OutboxEntry,
    OutboxStatus,
    utcnow,
)
from bot.reminders.cadence import HOLDOUT, Cadence, Step, default_cadence, in_holdout, load_cadence

CATCH_UP_DAYS = 2
_UPDATE_CHUNK = 5000  # ids per UPDATE ... WHERE id IN (...) when marking a holdout


@functools.lru_cache(maxsize=64)
def _parse_cadence(yaml_text: str, digest: str) -> Cadence:  # the digest names it in error messages
    return load_cadence(yaml_text, label=f"creditor cadence {digest[:8]}")


def cadence_for(creditor: Creditor) -> Cadence:
    """The creditor's cadence (its own YAML when set, else Régua's default)."""
    if not creditor.cadence_yaml:
        return default_cadence()
    return _parse_cadence(creditor.cadence_yaml, hashlib.sha256(creditor.cadence_yaml.encode()).hexdigest())


@dataclass(frozen=True)
class PlanResult:
    """How many rows the planner created, per step."""

    created: dict[str, int]

    @property
    def total(self) -> int:
        """All rows created."""
        return sum(self.created.values())


def _insert(session: Session, query: Select, columns: list[str]) -> int:
    """INSERT ... SELECT ... ON CONFLICT DO NOTHING on either backend; returns the rows inserted."""
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(OutboxEntry).from_select(columns, query).on_conflict_do_nothing()
        # psycopg does not report a row count here; count what the statement returns instead.
        inserted = statement.returning(OutboxEntry.id).cte("inserted")
        return session.scalar(select(func.count()).select_from(inserted)) or 0
    statement = sqlite.insert(OutboxEntry).from_select(columns, query).on_conflict_do_nothing()
    return max(session.connection().execute(statement).rowcount, 0)


_COLUMNS = [
    "invoice_id", "instalment_id", "debtor_id", "creditor_id", "cadence", "step_id", "send_on", "status",
    "channel_index", "attempts", "created_at", "updated_at",
]  # fmt: skip


def _shifted(session: Session, column: ColumnElement[date], days: int) -> ColumnElement[date]:
    """`column + days` as a date, in the backend's own date arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return (column + literal(days)).label("send_on")  # date + integer is a date in PostgreSQL
    return func.date(column, f"{days:+d} days").label("send_on")


def _plan_step(session: Session, cadence: Cadence, step: Step, creditor_ids: list[int], today: date) -> int:
    """Rows for one step: open invoices (and instalments) whose step day is within the window."""
    now = utcnow()
    # The step day is due date + offset; "step day within [today - CATCH_UP_DAYS, today]" is the same
    # set as "due date within these bounds", which an index on the due date answers.
    last = today - timedelta(days=step.offset_days)
    first = last - timedelta(days=CATCH_UP_DAYS)
    constants = [
        literal(cadence.name),
        literal(step.id),
    ]
    tail = [literal(OutboxStatus.PENDING.value), literal(0), literal(0), literal(now), literal(now)]
    # A debtor an agent paused the régua for gets no new rows (the dispatcher skips rows planned before).
    paused = select(Debtor.id).where(Debtor.reminders_paused_at.is_not(None))
    invoices = select(
        Invoice.id,
        literal(None),
        Invoice.debtor_id,
        Invoice.creditor_id,
        *constants,
        _shifted(session, Invoice.due_date, step.offset_days),
        *tail,
    ).where(
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.due_date.between(first, last),
        Invoice.creditor_id.in_(creditor_ids),
        Invoice.debtor_id.not_in(paused),
    )
    created = _insert(session, invoices, _COLUMNS)
    if step.tone != "negociacao":
        instalments = (
            select(
                literal(None),
                Instalment.id,
                Agreement.debtor_id,
                Agreement.creditor_id,
                *constants,
                _shifted(session, Instalment.due_date, step.offset_days),
                *tail,
            )
            .join(Agreement, Agreement.id == Instalment.agreement_id)
            .where(
                Instalment.status == InstalmentStatus.OPEN,
                Agreement.status == AgreementStatus.ACTIVE,
                Instalment.due_date.between(first, last),
                Agreement.creditor_id.in_(creditor_ids),
                Agreement.debtor_id.not_in(paused),
            )
        )
        created += _insert(session, instalments, _COLUMNS)
    if created and step.holdout:
        _record_holdout(session, cadence, step, creditor_ids, now)
    return created


def _record_holdout(
    session: Session, cadence: Cadence, step: Step, creditor_ids: list[int], planned_at: datetime
) -> None:
    """Mark the rows just planned for debtors in the step's holdout (variant `holdout`), so that the
    dispatcher sends them nothing and the experiment can measure them. Only this run's rows (created at
    `planned_at`): a debtor's draw never changes, so older rows were marked when they were planned."""
    rows = session.execute(
        select(OutboxEntry.id, OutboxEntry.debtor_id).where(
            OutboxEntry.created_at == planned_at,
            OutboxEntry.cadence == cadence.name,
            OutboxEntry.step_id == step.id,
            OutboxEntry.creditor_id.in_(creditor_ids),
            OutboxEntry.variant.is_(None),
        )
    ).all()
    held = [row_id for row_id, debtor_id in rows if in_holdout(step, debtor_id)]
    for start in range(0, len(held), _UPDATE_CHUNK):
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(held[start : start + _UPDATE_CHUNK]))
            .values(variant=HOLDOUT)
        )


def cadences_in_use(session: Session) -> list[tuple[Cadence, list[int]]]:
    """Each cadence in use and the creditors that use it (the default one for creditors without their own)."""
    groups: dict[Cadence, list[int]] = {}
    for creditor in session.scalars(select(Creditor).order_by(Creditor.id)):
        groups.setdefault(cadence_for(creditor), []).append(creditor.id)
    return list(groups.items())


def plan(session: Session, today: date) -> PlanResult:
    """Plan every due step of every cadence for `today` (Brasília's date). Idempotent."""
    created: dict[str, int] = {}
    for cadence, creditor_ids in cadences_in_use(session):
        for step in cadence.steps:
            key = f"{cadence.name}:{step.id}"
            created[key] = created.get(key, 0) + _plan_step(session, cadence, step, creditor_ids, today)
    return PlanResult(created)
