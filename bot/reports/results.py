"""The results report: KPI cards, funnel and tables of one question, from the precomputed aggregates.

`build` is the one place the rows are made: the console's page (webhooks/console_results.py) renders
them, `regua report` prints them with rich, and both write the same CSV (bot.reports.csv_export).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics import NO_DATA, CollectionMetrics, Dimension, Prices, Rate, Slice
from bot.analytics.daily import refreshed_at
from bot.analytics.summed import recovered_by_day, sliced, summed
from bot.models import Creditor
from bot.money import format_brl
from bot.reports.experiments import HEADERS as READOUT_HEADERS
from bot.reports.experiments import ExperimentView, experiment_views
from bot.reports.query import ReportQuery

CHANNEL_LABELS = {"whatsapp": "WhatsApp", "sms": "SMS"}
NONE_LABEL = "(nenhum)"


@dataclass(frozen=True)
class Table:
    """A table of the report: `key` names its CSV (`indicadores.csv`), `title` heads it."""

    key: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Card:
    """A KPI card: the number large, with its counts beneath."""

    title: str
    value: str
    detail: str


@dataclass(frozen=True)
class Series:
    """Amounts recovered per day and per value of a dimension (for a chart): `values[label][day]`."""

    days: list[date]
    values: dict[str, dict[date, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """Everything the page and the terminal show for one question."""

    query: ReportQuery
    creditor_name: str | None
    refreshed_at: datetime | None
    contacts: int
    cards: list[Card]
    funnel: list[tuple[str, int]]
    tables: list[Table]
    by_step: Series
    by_channel: Series
    experiments: list[ExperimentView]  # the readouts (bot.experiments), when one creditor is chosen

    def table(self, key: str) -> Table | None:
        """The table named `key`, or None."""
        return next((t for t in self.tables if t.key == key), None)


def _counts(rate: Rate) -> str:
    return f"{rate.numerator} de {rate.denominator}" if rate.denominator else NO_DATA


def _key_label(key: Any, names: dict[int, str], by: Dimension) -> str:
    if key is None:
        return NONE_LABEL
    if by is Dimension.CREDITOR:
        return names.get(int(key), f"credor {key}")
    if by is Dimension.CHANNEL:
        return CHANNEL_LABELS.get(str(key), str(key))
    return str(key)


def _cards(m: CollectionMetrics) -> list[Card]:
    return [
        Card("Valor recuperado", m.recovered_label, f"{m.contacts} contatos"),
        Card("Taxa de recuperação", m.collection.label, _counts(m.collection)),
        Card("Promessas cumpridas", m.promise_kept.label, _counts(m.promise_kept)),
        Card("Descadastros", m.opt_out.label, _counts(m.opt_out)),
        Card("Custo por real recuperado", m.cost_per_real.label, f"custo {m.costs.total_label}"),
        Card("Taxa de entrega", m.delivery.label, _counts(m.delivery)),
        Card("Taxa de resposta", m.response.label, _counts(m.response)),
        Card("Taxa de acordo", m.agreement.label, _counts(m.agreement)),
    ]


def _kpi_table(m: CollectionMetrics) -> Table:
    rates = (
        ("Taxa de entrega", m.delivery),
        ("Taxa de leitura (das entregues)", m.read),
        ("Taxa de resposta", m.response),
        ("Página de pagamento aberta", m.page_opened),
        ("Pix copiado", m.pix_copied),
        ("Linha digitável copiada", m.line_copied),
        ("Taxa de promessa", m.promise_to_pay),
        ("Promessas cumpridas", m.promise_kept),
        ("Taxa de acordo", m.agreement),
        ("Acordos quebrados", m.broken_agreement),
        ("Taxa de recuperação", m.collection),
        ("Descadastros", m.opt_out),
        ("Reclamações", m.complaint),
        ("Transferências para atendente", m.handoff),
    )
    rows = [(name, rate.label, str(rate.numerator), str(rate.denominator)) for name, rate in rates]
    rows += [
        ("Valor recuperado", m.recovered_label, "", ""),
        ("Custo total", m.costs.total_label, "", ""),
        ("Custo por real recuperado", m.cost_per_real.label, "", ""),
    ]
    return Table("indicadores", "Indicadores", ("Indicador", "Valor", "Numerador", "Denominador"), rows)


def _funnel(m: CollectionMetrics) -> list[tuple[str, int]]:
    return [
        ("Enviados", m.contacts),
        ("Entregues", m.delivery.numerator),
        ("Lidos", m.read.numerator),
        ("Responderam", m.response.numerator),
        ("Abriram a página", m.page_opened.numerator),
        ("Pagaram", m.collection.numerator),
    ]


def _funnel_table(steps: list[tuple[str, int]]) -> Table:
    sent = steps[0][1]
    rows = [(name, str(count), Rate(count, sent).label) for name, count in steps]
    return Table("funil", "Funil", ("Etapa", "Contatos", "% dos enviados"), rows)


SLICE_HEADERS = ("Contatos", "Entrega", "Resposta", "Recuperação", "Valor recuperado", "Custo")


def _slice_table(
    key: str, title: str, first: str, slices: list[Slice], names: dict[int, str], by: Dimension
) -> Table:
    rows = [
        (
            _key_label(s.key, names, by),
            str(s.metrics.contacts),
            s.metrics.delivery.label,
            s.metrics.response.label,
            s.metrics.collection.label,
            s.metrics.recovered_label,
            s.metrics.costs.total_label,
        )
        for s in slices
    ]
    return Table(key, title, (first, *SLICE_HEADERS), rows)


def _series(session: Session, query: ReportQuery, by: Dimension, names: dict[int, str]) -> Series:
    values: dict[str, dict[date, int]] = defaultdict(dict)
    days: set[date] = set()
    for day, key, cents, _contacts in recovered_by_day(session, query.period, query.filters, by):
        values[_key_label(key, names, by)][day] = cents
        days.add(day)
    return Series(sorted(days), dict(values))


def _series_table(key: str, title: str, first: str, series: Series) -> Table:
    rows = [
        (day.strftime("%d/%m/%Y"), label, format_brl(per_day[day]))
        for day in series.days
        for label, per_day in series.values.items()
        if day in per_day
    ]
    return Table(key, title, ("Dia", first, "Valor recuperado"), rows)


def _experiments_table(session: Session, query: ReportQuery, prices: Prices) -> Table:
    """Each step sent in more than one variant, variant by variant: the numbers only, for every creditor
    at once (the readouts with their statistics are per creditor: bot.reports.experiments)."""
    rows = []
    for step in sliced(session, query.period, query.filters, prices, Dimension.STEP):
        narrowed = query.filters.narrowed("step_id", step.key)
        variants = sliced(session, query.period, narrowed, prices, Dimension.VARIANT)
        if len(variants) < 2:
            continue
        rows += [
            (
                str(step.key),
                NONE_LABEL if v.key is None else str(v.key),
                str(v.metrics.contacts),
                v.metrics.collection.label,
                v.metrics.recovered_label,
            )
            for v in variants
        ]
    headers = ("Passo", "Variante", "Contatos", "Recuperação", "Valor recuperado")
    return Table("experimentos", "Variantes por passo", headers, rows)


def creditor_names(session: Session) -> dict[int, str]:
    """Every creditor's name by id (the filter's choices)."""
    stmt = select(Creditor.id, Creditor.legal_name).order_by(Creditor.legal_name)
    return {creditor_id: name for creditor_id, name in session.execute(stmt)}


def build(session: Session, query: ReportQuery, prices: Prices) -> Report:
    """The report of `query` from the aggregates (as fresh as their last refresh, which it says)."""
    names = creditor_names(session)
    m = summed(session, query.period, query.filters, prices)
    funnel = _funnel(m)
    by_step = _series(session, query, Dimension.STEP, names)
    by_channel = _series(session, query, Dimension.CHANNEL, names)
    slices = (
        ("passos", "Por passo da régua", "Passo", Dimension.STEP),
        ("canais", "Por canal", "Canal", Dimension.CHANNEL),
        ("segmentos", "Por segmento", "Segmento", Dimension.SEGMENT),
    )
    tables = [_kpi_table(m), _funnel_table(funnel)]
    tables += [
        _slice_table(key, title, first, sliced(session, query.period, query.filters, prices, by), names, by)
        for key, title, first, by in slices
    ]
    if query.creditor_id is None:
        creditors = sliced(session, query.period, query.filters, prices, Dimension.CREDITOR)
        tables.append(_slice_table("credores", "Por credor", "Credor", creditors, names, Dimension.CREDITOR))
    tables += [
        _series_table("evolucao-passos", "Valor recuperado por dia e passo", "Passo", by_step),
        _series_table("evolucao-canais", "Valor recuperado por dia e canal", "Canal", by_channel),
        _experiments_table(session, query, prices),
    ]
    readouts = experiment_views(session, query)
    if readouts:
        rows = [row for view in readouts for row in view.rows]
        tables.append(Table("analise-experimentos", "Análise dos experimentos", READOUT_HEADERS, rows))
    return Report(
        query=query,
        creditor_name=names.get(query.creditor_id) if query.creditor_id else None,
        refreshed_at=refreshed_at(session),
        contacts=m.contacts,
        cards=_cards(m),
        funnel=funnel,
        tables=tables,
        by_step=by_step,
        by_channel=by_channel,
        experiments=readouts,
    )
