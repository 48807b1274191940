"""`regua db`: schema migrations."""

from __future__ import annotations

import click

from bot import migrations
from bot.config import get_settings, redact_url


@click.group()
def db() -> None:
    """Banco de dados: migrações do esquema."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Revisão de destino.")
def upgrade(revision: str) -> None:
    """Atualiza o esquema do banco de dados."""
    url = get_settings().effective_database_url
    migrations.upgrade(url, revision)
    click.echo(f"Banco {redact_url(url)} na revisão {migrations.current_revision(url)}.")


@db.command()
@click.option("--revision", required=True, help="Revisão de destino (use 'base' para remover tudo).")
@click.confirmation_option(prompt="Isto pode apagar tabelas e dados. Continuar?")
def downgrade(revision: str) -> None:
    """Volta o esquema para uma revisão anterior."""
    url = get_settings().effective_database_url
    migrations.downgrade(url, revision)
    click.echo(f"Banco {redact_url(url)} na revisão {migrations.current_revision(url) or 'base'}.")


@db.command()
def current() -> None:
    """Mostra a revisão atual do banco e a mais recente disponível."""
    url = get_settings().effective_database_url
    click.echo(
        f"atual: {migrations.current_revision(url) or 'vazio'}; mais recente: {migrations.head_revision()}"
    )
