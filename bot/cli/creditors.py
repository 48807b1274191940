"""`regua creditor add|list`: register the companies whose receivables Régua collects."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bot.cli.imports import fail, open_database
from bot.imports import InvalidCreditor, list_creditors, upsert_creditor
from bot.imports.fields import display_cnpj

_DONE = {
    "created": "Credor cadastrado",
    "updated": "Credor atualizado",
    "unchanged": "Credor já cadastrado, sem alteração",
}


@click.group()
def creditor() -> None:
    """Credores: cadastrar e listar."""


@creditor.command()
@click.option("--cnpj", required=True, help="CNPJ do credor (com ou sem pontuação).")
@click.option("--name", "legal_name", required=True, help="Razão social.")
@click.option("--trade-name", help="Nome fantasia (o nome que o devedor conhece).")
@click.option(
    "--contact",
    required=True,
    help='Canal de contato do credor citado nas mensagens, ex.: "SAC 0800 000 0000".',
)
def add(cnpj: str, legal_name: str, trade_name: str | None, contact: str) -> None:
    """Cadastra um credor, ou atualiza nome e contato se o CNPJ já existir."""
    database = open_database()
    try:
        result = upsert_creditor(
            database,
            cnpj=cnpj,
            legal_name=legal_name,
            trade_name=trade_name,
            contact_channel=contact,
            actor="cli",
        )
    except InvalidCreditor as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(f"{_DONE[result.action]}: {result.display_name} (CNPJ {display_cnpj(result.cnpj)}).")


@creditor.command("list")
def list_command() -> None:
    """Lista os credores com o número de faturas."""
    database = open_database()
    try:
        rows = list_creditors(database)
    finally:
        database.dispose()
    if not rows:
        click.echo("Nenhum credor cadastrado. Cadastre um com 'regua creditor add'.")
        return
    table = Table(title=f"Credores ({len(rows)})", title_justify="left")
    table.add_column("CNPJ", no_wrap=True)
    table.add_column("Razão social")
    table.add_column("Nome fantasia")
    table.add_column("Contato")
    table.add_column("Faturas", justify="right")
    table.add_column("Em aberto", justify="right")
    for row in rows:
        table.add_row(
            display_cnpj(row.cnpj),
            row.legal_name,
            row.trade_name or "",
            row.contact_channel,
            f"{row.invoices:,}".replace(",", "."),
            f"{row.open_invoices:,}".replace(",", "."),
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
