"""`regua nlu candidate ...`: train a candidate model off the serving path, see its evaluation and the
quality gate's verdict, and (supervisors) override a refusal. Logic in bot.nlu_ops (candidates, trainer,
gate)."""

from __future__ import annotations

import click

from bot import redis_client
from bot.cli.imports import fail, open_database
from bot.config import get_settings
from bot.localtime import local_datetime
from bot.models import CandidateStatus, NluModel
from bot.nlu_ops import candidates, gate, trainer
from bot.people import accounts
from bot.people.roles import NotAllowed


@click.group("candidate")
def candidate_group() -> None:
    """Modelos candidatos: treinar fora do servidor, avaliar contra o atual e passar pelo portão."""


@candidate_group.command("train")
@click.option("--wait", is_flag=True, help="Treina neste processo e espera terminar (sem worker).")
@click.option("--user", "email", default=None, help="E-mail de quem pede (opcional; papel ops ou acima).")
def train(wait: bool, email: str | None) -> None:
    """Pede o treinamento de um candidato (fila `nlu`: `regua worker --queue nlu` o executa)."""
    database = open_database()
    try:
        with database.session() as session:
            try:
                person = accounts.active_user(session, email) if email else None
                if wait:
                    row = candidates.start(session, person, via="cli")
                else:
                    row = trainer.request(session, person, redis_client.connect(get_settings()), via="cli")
            except (
                accounts.AccountError,
                NotAllowed,
                candidates.AlreadyTraining,
                trainer.NotQueued,
            ) as error:
                fail(str(error).rstrip("."))
            candidate_id, name = row.id, row.model_file
        if not wait:
            click.echo(f"{name} na fila `nlu`; um worker (`regua worker --queue nlu`) vai treiná-lo.")
            return
        click.echo(f"Treinando {name} (leva alguns minutos) ...")
        trainer.run(database, candidate_id)
        with database.session() as session:
            _show(session, name)
    finally:
        database.dispose()


@candidate_group.command("list")
def list_command() -> None:
    """Lista os candidatos, os mais novos primeiro."""
    database = open_database()
    try:
        with database.session() as session:
            rows = candidates.listing(session)
            if not rows:
                click.echo("Nenhum candidato treinado ainda.")
            for row in rows:
                click.echo(_line(row))
    finally:
        database.dispose()


@candidate_group.command("show")
@click.argument("model")
def show(model: str) -> None:
    """Métricas de MODEL (arquivo ou id) contra o modelo atual e o veredito do portão."""
    database = open_database()
    try:
        with database.session() as session:
            _show(session, model)
    finally:
        database.dispose()


@candidate_group.command("override")
@click.argument("model")
@click.option("--reason", required=True, help="Por que liberar apesar do portão (fica na auditoria).")
@click.option("--user", "email", required=True, help="E-mail de quem libera (supervisor ou admin).")
def override(model: str, reason: str, email: str) -> None:
    """Libera MODEL recusado pelo portão de qualidade, com um motivo escrito (supervisão)."""
    database = open_database()
    try:
        with database.session() as session:
            try:
                person = accounts.active_user(session, email)
                result = gate.override(session, model, person, reason)
            except (accounts.AccountError, NotAllowed, gate.GateError) as error:
                fail(str(error).rstrip("."))
            for reason_line in result.reasons:
                click.echo(f"- {reason_line}")
            click.echo("Liberado.")
    finally:
        database.dispose()


def _line(row: NluModel) -> str:
    started = local_datetime(row.started_at)
    state = {"training": "treinando", "ready": "pronto", "failed": "falhou"}[row.status]
    if row.status == CandidateStatus.TRAINING:
        state += f" ({candidates.stage_label(row)})"
    gate_state = {None: "-", True: "aprovado", False: "recusado"}[row.gate_passed]
    if row.override_reason:
        gate_state = "liberado"
    return f"{row.id:>4}  {row.model_file}  {started:%d/%m %H:%M}  {state:24} portão: {gate_state}"


def _show(session, model: str) -> None:  # type: ignore[no-untyped-def]
    row = candidates.find(session, model)
    if row is None:
        fail(f"candidato não encontrado: {model}")
    click.echo(_line(row))
    if row.error:
        click.echo(f"Falha: {row.error}")
    found = row.evaluation or {}
    mine, theirs = found.get("candidate"), found.get("current")
    if mine:
        click.echo(f"Comparado com: {found.get('current_model') or 'nenhum modelo atual'}")
        click.echo(f"{'intenção':20} {'P':>6} {'R':>6} {'F1':>6}   {'R atual':>7} {'F1 atual':>8}")
        for intent, s in sorted(mine["intents"].items()):
            other = (theirs or {}).get("intents", {}).get(intent) or {}
            click.echo(
                f"{intent:20} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}   "
                f"{other.get('recall', float('nan')):7.3f} {other.get('f1', float('nan')):8.3f}"
            )
        current_f1 = f"{theirs['macro_f1']:.3f}" if theirs else "-"
        click.echo(f"F1 macro: {mine['macro_f1']:.3f} (atual {current_f1})")
        click.echo(f"Mensagens com previsão diferente do modelo atual: {len(found.get('changed') or [])}")
    result = gate.verdict(session, row.model_file)
    click.echo(
        "Portão: " + ("liberado" if result.overridden else "aprovado" if result.passed else "recusado")
    )
    for reason in result.reasons:
        click.echo(f"- {reason}")
