"""Who owns a conversation handed to a person: take it, assign it to someone, give it back to the bot.

A conversation is *owned* while it is `with_agent` and has an `assigned_user_id`; in any other state the
column is ignored (the engine may give a conversation back to the bot without clearing it). The row is
locked while it changes (SELECT ... FOR UPDATE on PostgreSQL), so two agents pressing "Assumir" at once
cannot both get it: the second is told who has it. State changes go through bot.conversation.handoff,
which also audits them; the assignment itself is audited here, always under a person.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.conversation import handoff
from bot.models import Conversation, ConversationState, User
from bot.people.accounts import actor
from bot.people.roles import NotAllowed, Permission, can, require


class AssignmentError(Exception):
    """The conversation cannot be taken, assigned or released now; the message is pt-BR."""


def owner_id(conversation: Conversation) -> int | None:
    """The id of the person who owns the conversation, or None when nobody does."""
    if conversation.state == ConversationState.WITH_AGENT:
        return conversation.assigned_user_id
    return None


def _locked(session: Session, conversation_id: int) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise AssignmentError(f"Conversa {conversation_id} não encontrada.")
    if conversation.state == ConversationState.BOT:
        raise AssignmentError("Esta conversa não está aguardando atendimento: ela está com o robô.")
    return conversation


def _someone_else_has_it(session: Session, conversation: Conversation, user: User) -> None:
    owner = owner_id(conversation)
    if owner is not None and owner != user.id and not can(user, Permission.ASSIGN):
        holder = session.get(User, owner)
        name = holder.name if holder is not None else "outra pessoa"
        raise NotAllowed(f"Esta conversa já está com {name}.")


def take(session: Session, conversation_id: int, user: User) -> Conversation:
    """`user` takes the conversation (it becomes `with_agent`, assigned to them). An agent cannot take
    one another person owns; a supervisor can."""
    require(user, Permission.TAKE)
    conversation = _locked(session, conversation_id)
    _someone_else_has_it(session, conversation, user)
    previous = owner_id(conversation)
    conversation.assigned_user_id = user.id
    handoff.take(session, conversation, agent=str(user.id))
    if previous is not None and previous != user.id:
        audit.record(
            session,
            actor(user),
            "conversation.assigned",
            "conversation",
            conversation.id,
            to=user.id,
            previous=previous,
        )
    return conversation


def assign(session: Session, conversation_id: int, assignee: User, by: User) -> Conversation:
    """`by` (a supervisor or admin) gives the conversation to `assignee` (an active person)."""
    require(by, Permission.ASSIGN)
    if not can(assignee, Permission.TAKE):
        raise AssignmentError(f"{assignee.name} não pode receber conversas (acesso desativado).")
    conversation = _locked(session, conversation_id)
    previous = owner_id(conversation)
    conversation.assigned_user_id = assignee.id
    if conversation.state != ConversationState.WITH_AGENT:
        handoff.take(session, conversation, agent=str(by.id))
    audit.record(
        session,
        actor(by),
        "conversation.assigned",
        "conversation",
        conversation.id,
        to=assignee.id,
        previous=previous,
    )
    return conversation


def release(session: Session, conversation_id: int, user: User) -> Conversation:
    """Give the conversation back to the bot. Its owner may; so may a supervisor; an agent may not
    release a conversation another person owns."""
    require(user, Permission.TAKE)
    conversation = _locked(session, conversation_id)
    _someone_else_has_it(session, conversation, user)
    conversation.assigned_user_id = None
    handoff.release(session, conversation, actor=actor(user))
    return conversation
