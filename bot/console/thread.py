"""A conversation as an agent reads it: every message (the debtor's, the bot's, the agents', reminders, and
the agents' SMS to the debtor sent from it) and the agents' internal notes, in order, with the delivery
status of each outbound message in plain pt-BR; the last `PAGE_SIZE` messages, and older pages on demand.

The page polls `load(..., after=...)` for what is new (see docs/agents.md on why polling): one query for
the new messages, one for the new notes, one for the statuses that changed lately, one for which messages
are reminders, one for the debtor's SMS conversations. Who may read and who may act is decided by
bot.people.roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.elements import ColumnElement

from bot import audit
from bot.console import sms_alternative
from bot.console.assignments import owner_id
from bot.models import (
    Conversation,
    ConversationNote,
    Direction,
    Message,
    MessageStatus,
    OutboxEntry,
    User,
    utcnow,
)
from bot.people.accounts import actor
from bot.people.roles import (
    NotAllowed,
    can_act_on_conversation,
    can_see_conversation,
    require_act_on_conversation,
)

PAGE_SIZE = 200
NOTE_MAX_CHARS = 2000
# Statuses that changed this recently are sent again with every poll (Twilio's callbacks come later).
STATUS_FRESH = timedelta(minutes=10)

STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.PENDING: "Aguardando envio",
    MessageStatus.SENDING: "Enviando…",
    MessageStatus.ACCEPTED: "Na fila da operadora",
    MessageStatus.QUEUED: "Na fila da operadora",
    MessageStatus.STORED: "Guardada (ambiente de teste)",
    MessageStatus.SENT: "Enviada",
    MessageStatus.DELIVERED: "Entregue",
    MessageStatus.READ: "Lida",
    MessageStatus.UNDELIVERED: "Não entregue",
    MessageStatus.FAILED: "Falhou",
}
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)

# What a provider error code means, for an agent (Twilio's codes).
_ERRORS: dict[int, str] = {
    63016: "Fora da janela de 24 horas do WhatsApp: só um modelo aprovado pode ser enviado agora.",
    21610: "Este número pediu para não receber mais mensagens (respondeu PARAR).",
    63014: "A pessoa bloqueou nossas mensagens no WhatsApp.",
    21211: "O número não é válido.",
    21614: "Este número não recebe SMS (não é um celular).",
    63003: "Este número não tem WhatsApp.",
    30003: "O celular não recebeu: desligado, sem sinal ou fora de área.",
    30005: "O número não existe ou foi desativado.",
    30006: "A operadora não entrega neste número (fixo ou bloqueado).",
    30007: "A operadora filtrou a mensagem como indesejada.",
    30008: "A operadora não entregou, sem dizer por quê.",
}


class ThreadError(Exception):
    """The conversation does not exist, or the viewer may not see it; the message is pt-BR."""


def explain_error(code: int | None) -> str:
    """What a failed send's provider error code means, in plain pt-BR."""
    if code is None:
        return "O envio falhou sem um código da operadora."
    return _ERRORS.get(code, f"A operadora recusou a mensagem (código {code}).")


@dataclass(frozen=True)
class Item:
    """One line of the thread: a message or a note."""

    kind: str  # "debtor", "bot", "agent", "reminder" or "note"
    id: int
    at: datetime
    body: str
    author: str | None = None  # the agent's name (agent messages and notes)
    media: list[dict[str, Any]] = field(default_factory=list)  # {"url", "content_type", "image": bool}
    status: MessageStatus | None = None  # outbound messages only
    error: str | None = None  # a failed send's explanation
    template: str | None = None  # the Content API SID of a template message
    # An agent's SMS to the debtor of a WhatsApp conversation: the SMS conversation it went in.
    sms_conversation: int | None = None

    @property
    def status_label(self) -> str | None:
        """The delivery status in plain pt-BR (outbound messages only)."""
        return STATUS_LABELS.get(self.status) if self.status is not None else None

    @property
    def failed(self) -> bool:
        """True when the provider refused or could not deliver it."""
        return self.status in FAILED


@dataclass(frozen=True)
class Thread:
    """What the conversation page shows (or, after `after`, what is new)."""

    conversation: Conversation
    items: list[Item]
    owner_id: int | None
    can_act: bool
    last_message_id: int
    last_note_id: int
    statuses: list[Item]  # outbound messages whose status changed lately (for a poll)
    older_than: int | None = None  # the oldest message shown, when there are older ones to load


def _locked_for_view(session: Session, conversation_id: int, viewer: User) -> tuple[Conversation, int | None]:
    conversation = session.scalar(
        select(Conversation)
        .options(joinedload(Conversation.debtor), joinedload(Conversation.assigned_user))
        .where(Conversation.id == conversation_id)
    )
    if conversation is None:
        raise ThreadError(f"Conversa {conversation_id} não encontrada.")
    owner = owner_id(conversation)
    if not can_see_conversation(viewer, owner):
        raise NotAllowed("Esta conversa está com outra pessoa.")
    return conversation, owner


def _is_image(media: dict[str, Any], own_prefix: str) -> bool:
    """Only our own signed images are shown inline (the CSP allows no other origin, and Twilio's media
    URLs need credentials): anything else is a link."""
    url = str(media.get("url") or "")
    return url.startswith(own_prefix) and url.endswith(".png")


def _message_item(
    message: Message, names: dict[int, str], reminders: set[int], own_prefix: str, conversation_id: int
) -> Item:
    if message.direction == Direction.INBOUND:
        kind = "debtor"
    elif message.sent_by_user_id is not None:
        kind = "agent"
    elif message.id in reminders:
        kind = "reminder"
    else:
        kind = "bot"
    outbound = message.direction == Direction.OUTBOUND
    status = MessageStatus(message.status) if outbound else None
    return Item(
        kind=kind,
        id=message.id,
        at=message.created_at,
        body="(apagada pela política de retenção)" if message.redacted_at else message.body,
        author=names.get(message.sent_by_user_id or 0),
        media=[{**m, "image": _is_image(m, own_prefix)} for m in message.media or [] if m.get("url")],
        status=status,
        error=explain_error(message.error_code) if status in FAILED else None,
        template=message.content_sid,
        sms_conversation=message.conversation_id if message.conversation_id != conversation_id else None,
    )


def _note_item(note: ConversationNote) -> Item:
    author = note.author.name if note.author is not None else None
    return Item(kind="note", id=note.id, at=note.created_at, body=note.body, author=author)


def load(
    session: Session,
    viewer: User,
    conversation_id: int,
    *,
    own_prefix: str = "",
    after: int | None = None,
    notes_after: int | None = None,
    before: int | None = None,
) -> Thread:
    """The thread `viewer` may read: the last `PAGE_SIZE` messages and the notes written since the first
    of them, oldest first; with `after` / `notes_after` only what is newer, plus the messages whose status
    changed lately; with `before` (a message id) the `PAGE_SIZE` messages before it and the notes of that
    stretch ("Carregar mensagens anteriores"). `own_prefix` is the start of our own media URLs (shown
    inline). Raises `ThreadError`, `NotAllowed`."""
    conversation, owner = _locked_for_view(session, conversation_id, viewer)
    mine = _of_thread(session, conversation)
    query = select(Message).where(mine)
    if after is not None:
        query = query.where(Message.id > after)
    if before is not None:
        query = query.where(Message.id < before)
    # One more than a page says whether older messages remain (for the "load older" link).
    page = session.scalars(query.order_by(Message.id.desc()).limit(PAGE_SIZE + 1)).all()
    messages = list(reversed(page[:PAGE_SIZE]))
    older_than = messages[0].id if len(page) > PAGE_SIZE and after is None else None
    notes = _notes(session, conversation_id, notes_after, before, messages[0] if older_than else None)
    changed: list[Message] = []
    if after is not None:
        changed = list(
            session.scalars(
                select(Message).where(
                    mine,
                    Message.direction == Direction.OUTBOUND,
                    Message.id <= after,
                    Message.updated_at >= utcnow() - STATUS_FRESH,
                )
            ).all()
        )
    ids = [m.id for m in messages + changed]
    reminders = set(
        session.scalars(select(OutboxEntry.message_id).where(OutboxEntry.message_id.in_(ids))).all()
        if ids
        else []
    )
    authors = {m.sent_by_user_id for m in messages + changed if m.sent_by_user_id is not None}
    names = (
        dict(session.execute(select(User.id, User.name).where(User.id.in_(authors))).all()) if authors else {}
    )
    items = [_message_item(m, names, reminders, own_prefix, conversation_id) for m in messages]  # type: ignore[arg-type]
    items += [_note_item(n) for n in notes]
    items.sort(key=lambda item: (item.at, item.kind == "note", item.id))
    return Thread(
        conversation=conversation,
        items=items,
        owner_id=owner,
        can_act=can_act_on_conversation(viewer, owner),
        last_message_id=max([m.id for m in messages], default=after or 0),
        last_note_id=max([n.id for n in notes], default=notes_after or 0),
        statuses=[_message_item(m, names, reminders, own_prefix, conversation_id) for m in changed],  # type: ignore[arg-type]
        older_than=older_than,
    )


def _of_thread(session: Session, conversation: Conversation) -> ColumnElement[bool]:
    """The conversation's messages, and the agents' SMS to its debtor (sent from its page outside
    WhatsApp's window: they belong to the debtor's SMS conversation, see bot.console.sms_alternative)."""
    own = Message.conversation_id == conversation.id
    linked = sms_alternative.linked_ids(session, conversation)
    if not linked:
        return own
    return or_(own, and_(Message.conversation_id.in_(linked), Message.sent_by_user_id.is_not(None)))


def _notes(
    session: Session, conversation_id: int, after: int | None, before: int | None, first: Message | None
) -> list[ConversationNote]:
    """The notes after note `after`; those written since `first` (the oldest message of a page that has
    older ones: an older note comes with the older messages) and, with `before`, before that message."""
    query = (
        select(ConversationNote)
        .options(joinedload(ConversationNote.author))
        .where(ConversationNote.conversation_id == conversation_id)
    )
    if after is not None:
        query = query.where(ConversationNote.id > after)
    if first is not None:
        query = query.where(ConversationNote.created_at >= first.created_at)
    if before is not None:
        until = select(Message.created_at).where(Message.id == before).scalar_subquery()
        query = query.where(ConversationNote.created_at < until)
    return list(session.scalars(query.order_by(ConversationNote.id)).all())


def add_note(session: Session, conversation_id: int, user: User, body: str) -> ConversationNote:
    """Add an internal note (agents only ever see it). Only someone who may act on the conversation may."""
    text = body.strip()
    if not text:
        raise ThreadError("Escreva a nota antes de salvar.")
    if len(text) > NOTE_MAX_CHARS:
        raise ThreadError(f"A nota passa de {NOTE_MAX_CHARS} caracteres.")
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise ThreadError(f"Conversa {conversation_id} não encontrada.")
    require_act_on_conversation(user, owner_id(conversation))
    note = ConversationNote(conversation_id=conversation_id, author_user_id=user.id, body=text)
    session.add(note)
    touch(conversation, user)
    session.flush()
    audit.record(
        session, actor(user), "conversation.note_added", "conversation", conversation_id, note=note.id
    )
    return note


def touch(conversation: Conversation, user: User) -> None:
    """Record that a person acted on the conversation now (the idle release counts from here)."""
    del user  # anyone who may act on it: the owner, or a supervisor stepping in
    conversation.agent_activity_at = utcnow()
