"""`regua handoff ...`: conversations handed to people, taken and given back to the bot."""

from __future__ import annotations

import click

from bot.cli.imports import fail, open_database
from bot.config import get_settings
from bot.console import assignments, giveback
from bot.conversation import handoff as handoff_lib
from bot.db import Database
from bot.nlu_serving import routing
from bot.people import accounts
from bot.people.roles import NotAllowed

# Why a conversation waits (conversations.handoff_reason), as the operator reads it.
_REASONS = {
    "legal_threat": "PRIORIDADE: menção jurídica",
    "complaint": "PRIORIDADE: reclamação",
    "asked": "pediu",
}


@click.group("handoff")
def handoff() -> None:
    """Conversas com atendimento humano: listar, assumir e devolver ao robô."""


@handoff.command("list")
def list_command() -> None:
    """Lista as conversas aguardando ou em atendimento humano."""
    database = open_database()
    try:
        with database.session() as session:
            rows = handoff_lib.waiting(session)
            if not rows:
                click.echo("Nenhuma conversa aguardando atendimento.")
            for c in rows:
                since = f"{c.handoff_requested_at:%d/%m %H:%M}" if c.handoff_requested_at else "-"
                who = c.debtor.first_name if c.debtor else "número desconhecido"
                why = _REASONS.get(c.handoff_reason or "", c.handoff_reason or "-")
                owner = assignments.owner_id(c)
                holder = f"  com {c.assigned_user.name}" if owner and c.assigned_user else ""
                click.echo(
                    f"{c.id:>6}  {c.state.value:13}  {c.channel.value:8}  {c.address:16}  {since}  {who}"
                    f"  {why}{holder}"
                )
    finally:
        database.dispose()


def _change(conversation_id: int, action: str, email: str) -> None:
    database = open_database()
    try:
        with database.session() as session:
            try:
                person = accounts.active_user(session, email)
                if action == "take":
                    conversation = assignments.take(session, conversation_id, person)
                else:
                    conversation = assignments.release(session, conversation_id, person)
            except (accounts.AccountError, assignments.AssignmentError, NotAllowed) as error:
                fail(str(error).rstrip("."))
            click.echo(f"Conversa {conversation_id}: {conversation.state.value}")
        if action == "release":
            _resume_rasa(conversation_id, database)
    finally:
        database.dispose()


def _resume_rasa(conversation_id: int, database: Database) -> None:
    """Tell Rasa's tracker the bot has the conversation again (the console's page pauses it on a take),
    through the slot answering debtors, as the console's give-back does (bot.nlu_serving.routing): the
    tracker store is shared, but the spare slot may be down or loading a model."""
    rasa = routing.routed_client(get_settings(), database)
    if not giveback.tell_rasa(rasa, conversation_id, "resume"):
        click.echo(
            "Aviso: o Rasa não foi avisado (fora do ar?). Rode o comando de novo quando ele voltar, "
            "ou o robô pode ficar em silêncio nesta conversa.",
            err=True,
        )


_USER = click.option("--user", "email", required=True, help="E-mail de quem age (cadastrado em regua user).")


@handoff.command("take")
@click.argument("conversation_id", type=int)
@_USER
def take(conversation_id: int, email: str) -> None:
    """Assume a conversa (o robô continua em silêncio)."""
    _change(conversation_id, "take", email)


@handoff.command("release")
@click.argument("conversation_id", type=int)
@_USER
def release(conversation_id: int, email: str) -> None:
    """Devolve a conversa ao robô."""
    _change(conversation_id, "release", email)
