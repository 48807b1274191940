"""`regua demo`: load the fictional demo data set through the real import path (logic in `bot.demo`)."""

from __future__ import annotations

import sys
from datetime import date

import click

from bot.cli.imports import EXIT_ROW_ERRORS, open_database


@click.command()
@click.option(
    "--debtors", default=300, show_default=True, type=click.IntRange(1, 100_000), help="Quantos devedores."
)
@click.option("--seed", default=42, show_default=True, type=int, help="Semente: mesma semente, mesmos dados.")
@click.option("--reset", is_flag=True, help="Apaga os dados de demonstração existentes e os recria.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]),
    help="Data de referência dos vencimentos (padrão: hoje).",
)
def demo(debtors: int, seed: int, reset: bool, today: object) -> None:
    """Carrega dados de demonstração fictícios (credor, devedores e faturas).

    Os arquivos CSV gerados ficam em var/demo/ e são importados como um credor faria. Se os dados de
    demonstração já existirem, nada muda (use --reset para recriá-los).
    """
    from bot.demo import load_demo

    reference: date | None = today.date() if today is not None else None  # type: ignore[attr-defined]
    database = open_database()
    try:
        summary = load_demo(
            database, debtors=debtors, seed=seed, today=reference, reset=reset, progress=sys.stderr.isatty()
        )
    finally:
        database.dispose()
    click.echo(str(summary))
    reports = [r for r in (summary.debtors, summary.invoices) if r is not None]
    for report in reports:
        for problem in report.errors[:20]:
            click.echo(f"  {report.label}, {problem}")
    if any(not r.ok for r in reports):
        sys.exit(EXIT_ROW_ERRORS)
