"""`regua handoff ...`: conversations handed to people, taken and given back to the bot."""

from __future__ import annotations

import click

from bot.cli.imports import fail, open_database
from bot.conversation import handoff as handoff_lib
from bot.models import Conversation

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
                why = _REASONS.get(c.handoff_reason or "", "-")
                click.echo(
                    f"{c.id:>6}  {c.state.value:13}  {c.channel.value:8}  {c.address:16}  {since}  {who}"
                    f"  {why}"
                )
    finally:
        database.dispose()


def _change(conversation_id: int, action: str, agent: str) -> None:
    database = open_database()
    try:
        with database.session() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                fail(f"conversa {conversation_id} não encontrada")
            if action == "take":
                handoff_lib.take(session, conversation, agent=agent)
            else:
                handoff_lib.release(session, conversation, actor=f"agent:{agent}")
            click.echo(f"Conversa {conversation_id}: {conversation.state.value}")
    finally:
        database.dispose()


@handoff.command("take")
@click.argument("conversation_id", type=int)
@click.option("--agent", default="cli", show_default=True, help="Quem assume.")
def take(conversation_id: int, agent: str) -> None:
    """Assume a conversa (o robô continua em silêncio)."""
    _change(conversation_id, "take", agent)


@handoff.command("release")
@click.argument("conversation_id", type=int)
@click.option("--agent", default="cli", show_default=True, help="Quem devolve.")
def release(conversation_id: int, agent: str) -> None:
    """Devolve a conversa ao robô."""
    _change(conversation_id, "release", agent)
