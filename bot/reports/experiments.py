"""The dashboard's experiments section: the readout of each experiment of a creditor's cadence
(bot.experiments: intervals, tests, "ainda não há dados suficientes"), as rows for the page, the CSV and
`regua report`. The statistics are bot.experiments'; this module only lays them out.

Readouts are computed live (they need each arm's counts over the matured part of the period, not the
daily sums), so they are asked only when one creditor is chosen: a few steps of one creditor."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.experiments import ExperimentError, Readout, experiment_steps, readout
from bot.reports.query import ReportQuery

# bot.experiments imports statsmodels where it is used (seconds: pandas, scipy), so that processes that
# never read an experiment start fast; the dashboard starts that import early (`warm_up`).
STATISTICS_MODULES = ("statsmodels.stats.proportion", "statsmodels.stats.multitest")
_warming = threading.Lock()
_warmed: list[threading.Thread] = []

HEADERS = ("Passo", "Braço", "Contatos", "Pagaram", "Recuperação", "Intervalo de confiança", "Conclusão")


@dataclass(frozen=True)
class ExperimentView:
    """One step's experiment: its arms as rows and the verdict in one sentence."""

    step_id: str
    verdict: str
    enough_data: bool
    rows: list[tuple[str, ...]]
    variants: list[str]  # the arms that may be declared the winner (not the holdout)


def _arm_label(arm_id: str, is_control: bool, is_holdout: bool) -> str:
    if is_holdout:
        return "sem mensagem (holdout)"
    return f"{arm_id} (controle)" if is_control else arm_id


def _view(found: Readout) -> ExperimentView:
    rows = [
        (
            found.step_id,
            _arm_label(arm.id, arm.is_control, arm.is_holdout),
            str(arm.n),
            str(arm.conversions),
            arm.rate.label,
            arm.interval_label,
            found.verdict,
        )
        for arm in found.arms
    ]
    variants = [arm.id for arm in found.arms if not arm.is_holdout]
    return ExperimentView(found.step_id, found.verdict, found.enough_data, rows, variants)


def experiment_views(session: Session, query: ReportQuery) -> list[ExperimentView]:
    """The readout of every experiment of the chosen creditor over the period (none without a creditor)."""
    if query.creditor_id is None:
        return []
    views = []
    for step in experiment_steps(session, query.creditor_id):
        try:
            views.append(_view(readout(session, query.creditor_id, step.id, query.period)))
        except ExperimentError:  # a step without contacts nor a place in the cadence: nothing to read
            continue
    return views


def _import_statistics() -> None:
    for name in STATISTICS_MODULES:
        importlib.import_module(name)


def warm_up() -> None:
    """Start importing the experiments' statistics library in the background, once per process: a
    supervisor opens the dashboard, reads it, then picks a creditor, whose readouts need it by then
    (instead of waiting seconds for the import on that first request)."""
    with _warming:
        if not _warmed:
            thread = threading.Thread(target=_import_statistics, name="statistics-warm-up", daemon=True)
            thread.start()
            _warmed.append(thread)
