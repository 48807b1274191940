"""`regua scheduler` (the process) and `regua campaign preview|run|status` (logic in bot.reminders)."""

from __future__ import annotations

import sys
from datetime import date

import click
from rich.console import Console
from rich.table import Table

from bot.cli.imports import open_database
from bot.config import get_settings
from bot.logging_setup import configure_logging


@click.command("scheduler")
def scheduler_command() -> None:
    """Inicia o agendador da régua: planeja os lembretes e aciona os despachantes."""
    from bot import redis_client
    from bot.reminders import scheduler

    settings = get_settings()
    configure_logging(settings)
    database = open_database()
    try:
        scheduler.run(settings, database, redis_client.connect(settings))
    finally:
        database.dispose()


@click.group()
def campaign() -> None:
    """Régua de cobrança: prévia, execução e situação dos lembretes."""


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


@campaign.command()
@click.option(
    "--date", "day", type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]), help="Dia (padrão: hoje)."
)
def preview(day: object) -> None:
    """Mostra o que sairia no dia: contagem por etapa, canal e variante, segmentos de SMS e custo."""
    from bot.reminders import preview as preview_lib

    settings = get_settings()
    database = open_database()
    try:
        with database.session() as session:
            result = preview_lib.preview(session, settings, day.date() if day else None)  # type: ignore[attr-defined]
    finally:
        database.dispose()
    table = Table(title=f"Prévia da régua para {result.day:%d/%m/%Y}", title_justify="left")
    for column in ("Etapa", "Canal", "Variante", "Lembretes", "Segmentos SMS", "Custo SMS"):
        table.add_column(
            column, justify="right" if column in ("Lembretes", "Segmentos SMS", "Custo SMS") else "left"
        )
    for row in result.rows:
        table.add_row(
            row.step_id,
            row.channel,
            row.variant or "-",
            str(row.count),
            str(row.sms_segments) if row.channel == "sms" else "-",
            row.cost_text if row.channel == "sms" else "-",
        )
    console = _console()
    console.print(table)
    console.print(f"Total: {result.total} lembrete(s); custo estimado de SMS: {result.cost_text}.")
    for warning in result.warnings:
        console.print(f"[yellow]Aviso:[/] {warning}")


@campaign.command()
@click.option(
    "--date", "day", type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]), help="Dia (padrão: hoje)."
)
@click.option("--plan-only", is_flag=True, help="Só planeja; os despachantes enviam.")
def run(day: object, plan_only: bool) -> None:
    """Planeja os lembretes do dia e os envia agora (respeitando janela, limites e opt-outs)."""
    from bot import runtime
    from bot.models import utcnow
    from bot.reminders import dispatch, planner, throttle

    settings = get_settings()
    database = open_database()
    try:
        with database.session() as session:
            today = day.date() if day else date.today()  # type: ignore[attr-defined]
            planned = planner.plan(session, today)
        click.echo(f"Planejados: {planned.total} lembrete(s) novo(s).")
        if plan_only:
            return
        services = runtime.build_services(settings)
        rates = {c: throttle.send_rate(settings, runtime.redis_url(), c) for c in ("whatsapp", "sms")}
        total = dispatch.DispatchStats()
        while (
            stats := dispatch.dispatch_batch(database, settings, services.sender, rates, now=utcnow())
        ).claimed:
            total.add(stats)
        click.echo(
            f"Enviados: {total.sent}; adiados: {total.deferred}; pulados: {total.skipped}; "
            f"nova tentativa: {total.retried}; troca de canal: {total.fell_back}; falhas: {total.failed}."
        )
        for reason, count in sorted(total.reasons.items()):
            click.echo(f"  {reason}: {count}")
    finally:
        database.dispose()


@campaign.command()
def status() -> None:
    """Situação da régua: lembretes por etapa e situação."""
    from bot.reminders import preview as preview_lib

    database = open_database()
    try:
        with database.session() as session:
            rows = preview_lib.status(session)
    finally:
        database.dispose()
    if not rows:
        click.echo("Nenhum lembrete planejado ainda.")
        sys.exit(0)
    table = Table(title="Régua: lembretes", title_justify="left")
    for column in ("Etapa", "Situação", "Canal", "Quantidade"):
        table.add_column(column, justify="right" if column == "Quantidade" else "left")
    for step_id, state, channel, count in rows:
        table.add_row(step_id, state, channel or "-", str(count))
    _console().print(table)
