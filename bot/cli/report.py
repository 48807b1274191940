"""`regua report`: the console's results dashboard in the terminal (rich tables) and as CSV, and
`regua report refresh`, which recomputes the aggregates of some days now (logic in bot.reports and
bot.analytics.daily)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from bot.analytics import Prices
from bot.analytics.daily import refresh
from bot.cli.imports import fail, open_database
from bot.config import get_settings
from bot.localtime import local_datetime
from bot.models import utcnow
from bot.reports import csv_export, query, results

console = Console()


def _parse(first: str | None, last: str | None, creditor: str | None) -> query.ReportQuery:
    try:
        return query.parse(first, last, creditor, utcnow())
    except query.BadQuery as error:
        fail(str(error))


def _print(report: results.Report) -> None:
    period = report.query.period
    console.print(
        f"[bold]Resultados de {period.first_day:%d/%m/%Y} a {period.last_day:%d/%m/%Y}[/] · "
        f"{report.creditor_name or 'todos os credores'}",
        highlight=False,
    )
    if report.refreshed_at:
        fresh = local_datetime(report.refreshed_at).strftime("%d/%m/%Y às %H:%M")
        console.print(f"Números atualizados em {fresh} (horário de Brasília).", highlight=False)
    else:
        console.print("[yellow]Os números ainda não foram calculados:[/] rode `regua report refresh`.")
    if not report.contacts:
        console.print("Sem dados: nenhum lembrete foi enviado neste período.")
    for table in report.tables:
        shown = Table(title=table.title, title_justify="left")
        for n, header in enumerate(table.headers):
            shown.add_column(header, justify="left" if n == 0 else "right")
        for row in table.rows:
            shown.add_row(*row)
        if not table.rows:
            shown.add_row("sem dados", *[""] * (len(table.headers) - 1))
        console.print(shown)


def _write_csv(report: results.Report, path: Path) -> None:
    """Every table in one file, one after the other with its title, separated by an empty line."""
    parts = [
        csv_export.to_csv((table.title,), [], bom=n == 0)
        + csv_export.to_csv(table.headers, table.rows, bom=False)
        for n, table in enumerate(report.tables)
    ]
    path.write_text("\r\n".join(parts), encoding="utf-8", newline="")


@click.group("report", invoke_without_command=True)
@click.option("--from", "first", help="Primeiro dia (AAAA-MM-DD); padrão: o dia 1º deste mês.")
@click.option("--to", "last", help="Último dia (AAAA-MM-DD), incluído; padrão: hoje.")
@click.option("--creditor", help="Id do credor (regua creditor list); padrão: todos.")
@click.option(
    "--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Grava as tabelas em CSV."
)
@click.pass_context
def report(
    ctx: click.Context, first: str | None, last: str | None, creditor: str | None, csv_path: Path | None
) -> None:
    """Resultados da cobrança (os mesmos do console): indicadores, funil, passos, canais, experimentos."""
    if ctx.invoked_subcommand is not None:
        return
    asked = _parse(first, last, creditor)
    database = open_database()
    try:
        with database.session() as session:
            built = results.build(session, asked, Prices.from_settings(get_settings()))
    finally:
        database.dispose()
    _print(built)
    if csv_path is not None:
        _write_csv(built, csv_path)
        console.print(f"CSV gravado em {csv_path} (separado por ponto e vírgula, UTF-8).", highlight=False)


@report.command("refresh")
@click.option("--from", "first", required=True, help="Primeiro dia a recalcular (AAAA-MM-DD).")
@click.option("--to", "last", required=True, help="Último dia a recalcular (AAAA-MM-DD), incluído.")
def refresh_command(first: str, last: str) -> None:
    """Recalcula agora os números desses dias (o worker recalcula os últimos 90 dias a cada hora)."""
    asked = _parse(first, last, None)
    database = open_database()
    try:
        with database.session() as session:
            written = refresh(session, asked.period.first_day, asked.period.last_day)
            session.commit()
    finally:
        database.dispose()
    console.print(f"Números recalculados: {written} linha(s).", highlight=False)
