"""`regua setup` (prepare what a run needs) and `regua up` (run every process, wait until healthy)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import click

from bot import embedded_redis, health, migrations, redis_client
from bot.config import PROJECT_ROOT, Settings, get_settings, redact_url
from bot.db import Database

# Rasa needs ~30 s to load TensorFlow and the model on a 2-core machine; leave ample room.
STARTUP_TIMEOUT_SECONDS = 300


@click.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Carrega os dados de demonstração.")
@click.option(
    "--train/--no-train", default=True, show_default=True, help="Treina o modelo se estiver defasado."
)
def setup(demo: bool, train: bool) -> None:
    """Prepara a execução: Redis embutido, migrações, dados de demonstração e modelo do Rasa."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if settings.redis_url is None:
        url = embedded_redis.ensure_running(settings.var_dir)
        click.echo(f"Redis embutido pronto em {url}")
    database_url = settings.effective_database_url
    migrations.upgrade(database_url)
    click.echo(f"Banco {redact_url(database_url)} na revisão {migrations.current_revision(database_url)}")
    if demo:
        from bot.demo import load_demo

        database = Database(database_url)
        try:
            summary = load_demo(database)
        finally:
            database.dispose()
        click.echo(str(summary))
    if train:
        from bot.cli.nlu import models_in_use
        from bot.rasa import training

        model = training.ensure_model(keep=models_in_use())
        click.echo(f"Modelo do Rasa: {model.name}")


def _demo_phone(settings: Settings) -> str:
    """The phone of a debtor with an open invoice, to suggest for `regua chat` ("+55..." if none)."""
    from sqlalchemy import select

    from bot.models import Debtor, Invoice, InvoiceStatus

    database = Database(settings.effective_database_url)
    try:
        with database.session() as session:
            phone = session.scalar(
                select(Debtor.phone)
                .join(Invoice, Invoice.debtor_id == Debtor.id)
                .where(Invoice.status == InvoiceStatus.OPEN)
                .order_by(Debtor.id)
                .limit(1)
            )
    except Exception:  # the banner must never fail
        phone = None
    finally:
        database.dispose()
    return phone or "+55..."


def _banner(settings: Settings) -> str:
    web = f"http://127.0.0.1:{settings.web_port}"
    chat_hint = (
        [
            f"  mensagens guardadas     {web}/sandbox",
            f"Converse como um devedor: .venv/bin/regua chat --phone {_demo_phone(settings)}",
        ]
        if settings.sandbox
        else []
    )
    return "\n".join(
        [
            "",
            "Régua está no ar.",
            f"  web (painel e webhooks)  {web}/   saúde: {web}/health/ready",
            f"  webhook Twilio           {settings.public_base_url}/webhooks/twilio/messages",
            f"  servidor Rasa (API)      {settings.rasa_url}/version   (a API pede ?token=RASA_AUTH_TOKEN)",
            f"  servidor de ações        {settings.action_server_url.rsplit('/webhook', 1)[0]}/health",
            "  worker RQ                `regua health` mostra os workers ativos",
            "  régua (agendador)        `regua campaign status` mostra os lembretes",
            "  modo                     "
            + (
                "sandbox: sem credenciais Twilio, as mensagens são guardadas e não enviadas"
                if settings.sandbox
                else "Twilio"
            ),
            *chat_hint,
            "Ctrl+C encerra todos os processos.",
            "",
        ]
    )


def _wait_healthy(settings: Settings, stop: threading.Event) -> None:
    conn = redis_client.connect(settings)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    results: dict[str, health.CheckResult] = {}
    while not stop.is_set() and time.monotonic() < deadline:
        results = health.process_checks(settings, conn)
        if all(r.ok for r in results.values()):
            click.echo(_banner(settings))
            return
        stop.wait(2)
    if not stop.is_set():
        failing = ", ".join(f"{n} ({r.detail})" for n, r in results.items() if not r.ok)
        click.echo(
            f"\nAtenção: processos ainda sem saúde após {STARTUP_TIMEOUT_SECONDS} s: {failing}", err=True
        )


@click.command()
def up() -> None:
    """Inicia todos os processos do Procfile (honcho) e avisa quando estiverem saudáveis."""
    settings = get_settings()
    started_redis = False
    if settings.redis_url is None:
        embedded_redis.ensure_running(settings.var_dir)
        started_redis = True
    honcho = [str(PROJECT_ROOT / ".venv" / "bin" / "honcho"), "-f", str(PROJECT_ROOT / "Procfile"), "start"]
    proc = subprocess.Popen(honcho, cwd=PROJECT_ROOT)
    stop = threading.Event()
    watcher = threading.Thread(target=_wait_healthy, args=(settings, stop), daemon=True)
    watcher.start()

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = proc.wait()
    stop.set()
    if started_redis:
        embedded_redis.stop(settings.var_dir)
    sys.exit(code)
