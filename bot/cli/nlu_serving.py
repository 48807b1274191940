"""`regua nlu promote`, `regua nlu rollback` and `regua nlu history`: which model answers debtors (logic
in `bot.nlu_serving`)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import click

from bot.cli.imports import fail, open_database
from bot.config import Settings, get_settings
from bot.db import Database
from bot.localtime import local_datetime
from bot.nlu_ops import gate
from bot.nlu_serving import state, swap
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, require

_USER = click.option(
    "--user",
    "email",
    help="E-mail de quem faz a troca (papel ops, supervisor ou admin); sem ele, o usuário do sistema.",
)


def _actor(database: Database, email: str | None) -> str:
    """The audit actor: the console person `email` (who must be allowed to deploy), or the OS user."""
    if email is None:
        return f"cli:{getpass.getuser()}"[:120]
    with database.session() as session:
        try:
            person = accounts.active_user(session, email)
            require(person, Permission.NLU_DEPLOY)
        except (accounts.AccountError, NotAllowed) as error:
            fail(str(error).rstrip("."))
        return accounts.actor(person)


def check_gate(model_file: Path, skip_gate: bool) -> None:
    """Refuse to promote `model_file` unless it is a candidate the quality gate passed (or a supervisor
    let through: bot.nlu_ops.gate); `--skip-gate` is for a model that is not a candidate (an emergency)."""
    if skip_gate:
        return
    database = open_database()
    try:
        with database.session() as session:
            try:
                gate.require_passed(session, model_file.name)
            except gate.GateRefused as error:
                session.commit()  # the verdict is recorded on the candidate's row
                fail(str(error).rstrip("."))
            except gate.GateError as error:
                fail(f"{str(error).rstrip('.')} (promova um candidato avaliado, ou use --skip-gate)")
            session.commit()  # the verdict is recorded on the candidate's row
    finally:
        database.dispose()


def _swap(email: str | None, run: Callable[[Settings, Database, str], swap.Outcome]) -> None:
    """Run a swap as `email` (or the OS user) and say which model now answers, or why nothing changed."""
    settings = get_settings()
    database = open_database()
    try:
        actor = _actor(database, email)
        try:
            outcome = run(settings, database, actor)
        except (state.SwapRefused, swap.SwapFailed) as error:
            fail(str(error).rstrip("."))
    finally:
        database.dispose()
    verb = "carregado e " if outcome.loaded else ""
    click.echo(
        f"{state.model_name(outcome.model_file)} {verb}respondendo no Rasa {outcome.slot.value} "
        f"({outcome.seconds:.0f} s)."
    )


@click.command("promote")
@click.argument("model_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--skip-gate", is_flag=True, help="Promove sem passar pelo portão de qualidade.")
@_USER
def promote_command(model_file: Path, skip_gate: bool, email: str | None) -> None:
    """Põe o modelo MODEL_FILE para responder aos devedores, sem perder nem repetir mensagens."""
    check_gate(model_file, skip_gate)
    _swap(email, lambda settings, database, actor: swap.promote(settings, database, model_file, actor))


@click.command("rollback")
@click.argument("model_file", required=False)
@_USER
def rollback_command(model_file: str | None, email: str | None) -> None:
    """Volta a um modelo que já respondeu aos devedores (padrão: o anterior ao atual)."""
    _swap(email, lambda settings, database, actor: swap.rollback(settings, database, actor, model_file))


@click.command("history")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def history_command(limit: int) -> None:
    """Mostra qual modelo responde agora e o histórico de trocas (quem, quando, de qual modelo)."""
    database = open_database()
    try:
        with database.session() as session:
            now = state.serving(session)
            active = now.active_slot
            click.echo(f"Respondendo: Rasa {active.value} com {state.model_name(now.model_of(active))}")
            spare = state.model_name(now.model_of(active.other))
            click.echo(f"Reserva:     Rasa {active.other.value} com {spare}")
            if now.swap_token:
                click.echo(f"Troca em andamento: {state.model_name(now.swap_model)} por {now.swap_actor}")
            if now.last_error:
                when = local_datetime(now.last_error_at).strftime("%d/%m %H:%M") if now.last_error_at else ""
                click.echo(f"Última troca abandonada ({when}): {now.last_error}")
            for row in state.history(session, limit):
                click.echo(
                    f"{local_datetime(row.created_at):%d/%m/%Y %H:%M}  {row.action.value:8}  "
                    f"{state.model_name(row.model_file)}  (antes: {state.model_name(row.previous_model)})  "
                    f"{row.slot.value}  {row.actor}"
                )
    finally:
        database.dispose()
