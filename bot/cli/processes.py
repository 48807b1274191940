"""The commands behind each Procfile process (`web`, `rasa-server`, `actions`, `worker`) and `health`."""

from __future__ import annotations

import os
import sys

import click

from bot import health, redis_client, worker
from bot.config import PROJECT_ROOT, get_settings
from bot.db import Database
from bot.logging_setup import configure_logging
from bot.models import RasaSlot
from bot.nlu_serving import boot
from bot.rasa import server


def _exec(argv: list[str], env: dict[str, str] | None = None) -> None:
    # exec, not a child process: honcho's signals then reach the real server directly.
    os.chdir(PROJECT_ROOT)
    os.execvpe(argv[0], argv, env if env is not None else dict(os.environ))


@click.command()
def web() -> None:
    """Inicia o app web (gunicorn) com os webhooks do Twilio."""
    settings = get_settings()
    argv = [
            str(PROJECT_ROOT / ".venv" / "bin" / "gunicorn"),
            "--bind",
            f"{settings.web_host}:{settings.web_port}",
            "--workers",
            str(settings.web_workers),
            "--threads",
            str(settings.web_threads),
            "--timeout",
            "30",
            "--access-logfile",
            "-",
            # Masks payment-page and signed-image tokens in the access and error logs.
            "--logger-class",
            "webhooks.access_log.MaskedLogger",
            "webhooks:create_app()",
    ]  # fmt: skip
    _exec(argv)


@click.command("rasa-server")
@click.option(
    "--slot",
    type=click.Choice([s.value for s in RasaSlot]),
    default=RasaSlot.BLUE.value,
    show_default=True,
    help="Qual dos dois servidores Rasa (blue em RASA_PORT, green em RASA_GREEN_PORT).",
)
def rasa_server(slot: str) -> None:
    """Inicia um servidor Rasa (API HTTP) com o modelo que o seu slot deve servir."""
    settings = get_settings()
    configure_logging(settings)
    chosen = RasaSlot(slot)
    model = boot.model_to_serve(settings, chosen)
    if not model.exists():
        raise click.ClickException("Nenhum modelo treinado para os dados atuais. Rode `regua nlu train`.")
    endpoints = server.write_endpoints(settings)
    credentials = server.write_credentials(settings)
    port = settings.rasa_port if chosen is RasaSlot.BLUE else settings.rasa_green_port
    _exec(
        server.server_command(settings, model, endpoints, credentials, port),
        server.server_environment(settings),
    )


@click.command()
def actions() -> None:
    """Inicia o servidor de ações do Rasa (rasa_sdk)."""
    # Régua's entry point, not `python -m rasa_sdk`: it binds ACTION_SERVER_HOST and checks the token.
    _exec([sys.executable, "-m", "actions.server"])


@click.command("worker")
@click.option("--burst", is_flag=True, help="Processa o que estiver na fila e sai.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Filas a atender (padrão: default; os despachantes da régua usam --queue reminders).",
)
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Inicia um worker RQ (tarefas em segundo plano)."""
    settings = get_settings()
    configure_logging(settings)
    worker.run(settings, queues=list(queues) or None, burst=burst)


@click.command("health")
@click.option(
    "--deep",
    is_flag=True,
    help="Também envia uma tarefa de teste ao worker e confere que Rasa e o servidor de ações recusam "
    "chamadas sem token e não estão expostos fora do loopback.",
)
def health_command(deep: bool) -> None:
    """Verifica a saúde de cada processo (web, rasa, actions, worker)."""
    settings = get_settings()
    conn = redis_client.connect(settings)
    database = Database(settings.effective_database_url)
    try:
        results = health.process_checks(settings, conn, database)  # names the slot answering debtors
    finally:
        database.dispose()
    if deep and results["worker"].ok:
        results["worker job"] = health.check_worker_roundtrip(conn)
    if deep:
        results.update(health.internal_service_checks(settings))
    for name, result in results.items():
        mark = click.style("ok", fg="green") if result.ok else click.style("FALHA", fg="red")
        click.echo(f"{name:12} {mark:>5}  {result.detail}")
    if not all(r.ok for r in results.values()):
        sys.exit(1)
