"""`regua experiment plan|readout|declare`: A/B experiments on the régua's steps (logic: bot.experiments)."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from rich.console import Console
from rich.table import Table

from bot.cli.imports import fail, open_database

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
DEFAULT_DAYS = 90


def _number(value: float) -> str:
    """0.05 as "0,05"."""
    return f"{value:g}".replace(".", ",")


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _share(text: str, name: str) -> float:
    """A percentage as typed ("10", "10%", "2,5") as a share (0.10)."""
    try:
        return float(text.strip().rstrip("%").strip().replace(",", ".")) / 100
    except ValueError:
        fail(f"{name} deve ser uma porcentagem, como 10 ou 2,5 (recebido {text!r})")


@click.group()
def experiment() -> None:
    """Experimentos A/B nas etapas da régua: planejamento, resultado e vencedor."""


@experiment.command()
@click.option("--baseline", required=True, help="Taxa de recuperação atual da etapa, em % (ex.: 10).")
@click.option(
    "--mde", required=True, help="Menor diferença que vale detectar, em pontos percentuais (ex.: 2)."
)
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Nível de significância.")
@click.option("--power", default=0.8, show_default=True, type=float, help="Poder do teste.")
@click.option("--arms", default=2, show_default=True, type=int, help="Braços, controle e holdout incluídos.")
def plan(baseline: str, mde: str, alpha: float, power: float, arms: int) -> None:
    """Calcula quantos contatos cada braço precisa antes de começar o experimento."""
    from bot.experiments import PlanError, plan_sample

    try:
        result = plan_sample(_share(baseline, "--baseline"), _share(mde, "--mde"), alpha, power, arms)
    except PlanError as error:
        fail(str(error))
    effect, base = _number(result.minimum_effect * 100), _number(result.baseline * 100)
    click.echo(
        f"Para detectar {effect} p.p. sobre {base} % (alfa {_number(alpha)}, poder {_number(power)}, "
        f"{arms} braços): {result.per_arm} contatos por braço, {result.total} no total."
    )
    if arms > 2:
        per_comparison = _number(round(result.comparison_alpha, 4))
        click.echo(
            f"Com {arms - 1} comparações contra o controle, cada uma usa alfa {per_comparison} "
            "(Bonferroni, o caso mais exigente da correção de Holm aplicada no resultado)."
        )
    click.echo(f"Na régua, escreva na etapa: sample_size: {result.per_arm}")


@experiment.command()
@click.option("--creditor", "cnpj", required=True, help="CNPJ do credor.")
@click.option("--step", "step_id", required=True, help="Id da etapa (ex.: acompanhamento_d+1).")
@click.option(
    "--from", "first", type=click.DateTime(formats=DATE_FORMATS), help="Primeiro dia (padrão: 90 dias atrás)."
)
@click.option("--to", "last", type=click.DateTime(formats=DATE_FORMATS), help="Último dia (padrão: hoje).")
@click.option("--planned", type=int, help="Contatos planejados por braço (padrão: sample_size da etapa).")
@click.option("--control", help="Braço de controle (padrão: a primeira variante da etapa).")
@click.option("--window-days", default=7, show_default=True, type=int, help="Janela de atribuição, em dias.")
def readout(
    cnpj: str,
    step_id: str,
    first: datetime | None,
    last: datetime | None,
    planned: int | None,
    control: str | None,
    window_days: int,
) -> None:
    """Mostra o resultado do experimento de uma etapa: taxa por braço, intervalo e teste."""
    from bot.analytics import Period, Windows
    from bot.experiments import ExperimentError
    from bot.experiments import readout as read
    from bot.localtime import DEFAULT_TZ, local_date
    from bot.models import utcnow
    from bot.payments.setup import InvalidSetting, find_creditor

    last_day = last.date() if last else local_date(utcnow(), DEFAULT_TZ)
    first_day = first.date() if first else last_day - timedelta(days=DEFAULT_DAYS)
    try:
        period = Period(first_day, last_day)
        windows = Windows(attribution_days=window_days)
    except ValueError as error:
        fail(str(error))
    database = open_database()
    try:
        with database.session() as session:
            creditor = find_creditor(session, cnpj)
            result = read(
                session,
                creditor.id,
                step_id,
                period,
                windows=windows,
                control=control,
                planned_per_arm=planned,
            )
    except (InvalidSetting, ExperimentError) as error:
        fail(str(error))
    finally:
        database.dispose()
    counted = (
        f"{result.period.first_day:%d/%m/%Y} a {result.period.last_day:%d/%m/%Y}"
        if result.period
        else "nenhum dia"
    )
    table = Table(title=f"Experimento da etapa {step_id} (contatos de {counted})", title_justify="left")
    for column in ("Braço", "Contatos", "Pagos", "Taxa", f"Intervalo de {1 - result.alpha:.0%}"):
        table.add_column(column, justify="left" if column == "Braço" else "right")
    for arm in result.arms:
        name = arm.id + (" (controle)" if arm.is_control else "")
        table.add_row(name, str(arm.n), str(arm.conversions), arm.rate.label, arm.interval_label)
    console = _console()
    console.print(table)
    console.print(
        f"Conversão: pago em até {result.attribution_days} dias depois da mensagem da etapa (só contam "
        "contatos cuja janela já terminou)."
    )
    for comparison in result.comparisons:
        console.print(comparison.label)
    if result.correction:
        console.print("p-valores corrigidos por Holm (mais de uma comparação com o controle).")
    if result.excluded:
        console.print(
            f"{result.excluded} contato(s) da etapa foram levados pela mensagem de outra etapa "
            "(ficam fora dos braços)."
        )
    console.print(result.verdict)


@experiment.command()
@click.option("--creditor", "cnpj", required=True, help="CNPJ do credor.")
@click.option("--step", "step_id", required=True, help="Id da etapa.")
@click.option(
    "--variant", "variant_id", help="Variante vencedora (omita numa etapa sem variantes, só com holdout)."
)
@click.option("--yes", is_flag=True, help="Não pede confirmação.")
def declare(cnpj: str, step_id: str, variant_id: str | None, yes: bool) -> None:
    """Declara a variante vencedora: a régua do credor fica só com ela nessa etapa (sem holdout)."""
    from bot.experiments import ExperimentError, declare_winner
    from bot.payments.setup import InvalidSetting, find_creditor

    winner = variant_id or "a mensagem da etapa"
    if not yes:
        click.confirm(f"Gravar {winner} como única mensagem da etapa {step_id}?", abort=True)
    database = open_database()
    try:
        with database.session() as session:
            creditor = find_creditor(session, cnpj)
            cadence = declare_winner(session, creditor.id, step_id, variant_id, actor="cli")
    except (InvalidSetting, ExperimentError) as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(f"Régua '{cadence.name}' gravada: a etapa {step_id} envia só {winner}, sem holdout.")
    for warning in cadence.warnings:
        click.echo(f"Aviso: {warning}")
