"""The debtor card's actions that change records without writing to the debtor: pause and resume the
régua for this debtor (`Debtor.reminders_paused_at`: the planner and the dispatcher skip a paused debtor),
resolve one of the debtor's cases (bot.console.cases.resolve), register an opt-out (bot.optout.record).

Each takes the conversation's row lock, is allowed only to who may act on the conversation
(bot.people.roles), is audited under the person, and is safe to submit twice (the state is checked: a
second pause finds the régua paused). The actions that send messages are in `bot.console.card_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.console.assignments import owner_id
from bot.console.cases import resolve
from bot.models import Case, Channel, Conversation, Debtor, OptOutAction, User, utcnow
from bot.optout import record as record_opt_out
from bot.people.accounts import actor
from bot.people.roles import require_act_on_conversation
from bot.reminders.rechecks import address_on

NOTE_MAX_CHARS = 200


class CardError(Exception):
    """The action cannot be done as asked; the message is pt-BR, for the agent."""


@dataclass(frozen=True)
class Done:
    """An action done: what to tell the agent, and whether messages wait to be delivered."""

    notice: str
    to_deliver: bool = False
    deliver_in: int | None = None  # where the messages wait, when not the action's conversation (an SMS)


def locked_conversation(session: Session, conversation_id: int, user: User) -> tuple[Conversation, Debtor]:
    """The conversation, row-locked (two clicks or two people act one after the other), if `user` may act
    on it and its debtor is identified."""
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise CardError(f"Conversa {conversation_id} não encontrada.")
    require_act_on_conversation(user, owner_id(conversation))
    if conversation.debtor is None:
        raise CardError("O devedor desta conversa ainda não foi identificado.")
    return conversation, conversation.debtor


def pause(session: Session, conversation_id: int, user: User, note: str, now: datetime | None = None) -> Done:
    """Pause the régua for the conversation's debtor (no reminder is planned or sent until resumed)."""
    _, debtor = locked_conversation(session, conversation_id, user)
    if debtor.reminders_paused_at is not None:
        return Done("A régua já estava pausada para esta pessoa.")
    debtor.reminders_paused_at = now or utcnow()
    debtor.reminders_paused_by_user_id = user.id
    debtor.reminders_pause_note = " ".join(note.split())[:NOTE_MAX_CHARS] or None
    audit.record(
        session, actor(user), "debtor.reminders_paused", "debtor", debtor.id, conversation=conversation_id
    )
    return Done("Régua pausada para esta pessoa: nenhum lembrete automático até retomar.")


def resume(session: Session, conversation_id: int, user: User) -> Done:
    """Resume the régua for the conversation's debtor."""
    _, debtor = locked_conversation(session, conversation_id, user)
    if debtor.reminders_paused_at is None:
        return Done("A régua já estava ativa para esta pessoa.")
    debtor.reminders_paused_at = debtor.reminders_paused_by_user_id = debtor.reminders_pause_note = None
    audit.record(
        session, actor(user), "debtor.reminders_resumed", "debtor", debtor.id, conversation=conversation_id
    )
    return Done("Régua retomada: os próximos lembretes seguem a cadência do credor.")


def resolve_case(
    session: Session, conversation_id: int, user: User, case_id: int, note: str, resume_collection: bool
) -> Done:
    """Resolve one of the debtor's cases (bot.console.cases.resolve, audited under the person)."""
    _, debtor = locked_conversation(session, conversation_id, user)
    case = session.get(Case, case_id)
    if case is None or case.debtor_id != debtor.id:
        raise CardError(f"Caso {case_id} não encontrado para esta pessoa.")
    resolve(session, user, case_id, note=note, resume_collection=resume_collection)
    return Done(f"Caso {case_id} resolvido.")


def opt_out(session: Session, conversation_id: int, user: User, channel: str) -> Done:
    """Register that the debtor asked not to be messaged on `channel` (they said so to the agent)."""
    _, debtor = locked_conversation(session, conversation_id, user)
    try:
        chosen = Channel(channel)
    except ValueError:
        raise CardError("Canal desconhecido.") from None
    label = "WhatsApp" if chosen == Channel.WHATSAPP else "SMS"
    if debtor.opted_out(chosen):
        return Done(f"O descadastro no {label} já estava registrado.")
    record_opt_out(
        session, channel=chosen, address=address_on(debtor, chosen), action=OptOutAction.OPT_OUT,
        source="agent", debtor=debtor,
    )  # fmt: skip
    audit.record(session, actor(user), "card.opt_out", "debtor", debtor.id, channel=chosen.value)
    return Done(f"Descadastro no {label} registrado: nenhuma mensagem vai mais por este canal.")
