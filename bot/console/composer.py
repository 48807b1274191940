"""An agent's answer: the rules of what may be sent now, and sending it through the bot's delivery path.

Rules (docs/agents.md says why):
* opted-out channels cannot be written to;
* WhatsApp: free text only inside the 24-hour window (bot.channels.whatsapp_window); outside it one of
  the creditor's approved templates (bot.console.replies), or the text by SMS to the debtor's phone
  (bot.console.sms_alternative) unless they opted out of SMS; SMS has no such window;
* outside the legal contact window (bot.reminders.window) a *proactive* message needs an explicit
  confirmation; a reply to a debtor who wrote within `REPLY_GRACE` is allowed. An SMS outside WhatsApp's
  window is always proactive (the debtor has not written for a day).

Sending: the row is saved first (`pending`, `sent_by_user_id` = the agent, `client_nonce` = the form's
nonce, unique) in the caller's transaction, with the conversation's row locked; after the commit
`deliver_now` claims and sends it with `bot.delivery.sending.deliver`, like the bot's replies (status
callbacks, retries, look-ups of ambiguous sends). The same nonce twice (a double click, a resubmitted
form, a browser retry) finds the first row and sends nothing more; an answer written while someone else's
newer answer was not yet on the page is refused, so two people answering at once do not both send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import audit
from bot.channels.whatsapp_window import whatsapp_window_open
from bot.config import Settings
from bot.console import replies, sms_alternative, thread
from bot.console.assignments import owner_id
from bot.delivery import outgoing, sending
from bot.localtime import local_date
from bot.models import Channel, Conversation, Direction, Message, MessageStatus, User, as_utc, utcnow
from bot.optout import is_opted_out
from bot.people.accounts import actor
from bot.people.roles import require_act_on_conversation
from bot.reminders.rendering import RenderError
from bot.reminders.window import debtor_window_open
from bot.runtime import Services

log = logging.getLogger(__name__)

# A debtor who wrote this recently is being answered, not contacted: allowed outside the legal window.
REPLY_GRACE = timedelta(hours=2)
TEXT_MAX_CHARS = 1500


class ComposeError(Exception):
    """The message cannot be sent as it is; the message is pt-BR, for the agent."""


@dataclass(frozen=True)
class Rules:
    """What may be sent in this conversation now."""

    channel: Channel
    opted_out: bool
    free_text: bool  # False: WhatsApp outside the 24 h window (templates only)
    templates: list[replies.TemplateChoice]
    legal_window_open: bool
    debtor_just_wrote: bool
    sms: bool = False  # outside WhatsApp's window: the text may go by SMS to the debtor's phone

    @property
    def needs_confirmation(self) -> bool:
        """A proactive message outside the legal contact window: the agent must confirm it."""
        return not self.legal_window_open and not self.debtor_just_wrote

    @property
    def sms_needs_confirmation(self) -> bool:
        """An SMS outside the legal contact window (always a proactive contact): the agent must confirm."""
        return not self.legal_window_open

    @property
    def can_send(self) -> bool:
        """False when nothing at all may go (opted out, or outside the window with no template)."""
        return not self.opted_out and (self.free_text or bool(self.templates))


@dataclass(frozen=True)
class Draft:
    """What the agent's form asks: free `text` or a template (`content_sid`), and the form's details."""

    nonce: str
    text: str = ""
    content_sid: str | None = None
    via_sms: bool = False  # outside WhatsApp's window: send `text` by SMS (Rules.sms)
    sms_body: str | None = None  # a failed SMS sent again: its body as it was (the creditor already named)
    confirmed: bool = False  # the agent confirmed a proactive message outside the legal window
    seen_message_id: int | None = None  # the newest message on the agent's page when they wrote


@dataclass
class Saved:
    """The message row saved for an answer; `duplicate` when the nonce had already saved it."""

    message: Message
    duplicate: bool = False
    notes: list[str] = field(default_factory=list)


def rules(session: Session, settings: Settings, conversation: Conversation, now: datetime) -> Rules:
    """The rules for `conversation` at `now`."""
    opted_out = is_opted_out(
        session, conversation.channel, conversation.address, conversation.debtor, key=settings.erasure_key
    )
    free_text = conversation.channel != Channel.WHATSAPP or whatsapp_window_open(
        conversation.last_inbound_at, now
    )
    last_inbound = as_utc(conversation.last_inbound_at)
    debtor = conversation.debtor
    outside_24h = not free_text and not opted_out
    return Rules(
        channel=conversation.channel,
        opted_out=opted_out,
        free_text=free_text,
        templates=replies.templates(session, conversation)
        if conversation.channel == Channel.WHATSAPP
        else [],
        legal_window_open=debtor_window_open(debtor, now) if debtor is not None else True,
        debtor_just_wrote=last_inbound is not None and now - last_inbound < REPLY_GRACE,
        sms=outside_24h and sms_alternative.available(session, settings, conversation),
    )


def _locked(session: Session, conversation_id: int) -> Conversation:
    conversation = session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise ComposeError(f"Conversa {conversation_id} não encontrada.")
    return conversation


def _by_nonce(session: Session, nonce: str) -> Message | None:
    return session.scalar(select(Message).where(Message.client_nonce == nonce))


def _someone_else_answered(session: Session, conversation_id: int, user: User, seen: int | None) -> bool:
    if seen is None:
        return False
    newer = session.scalar(
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.OUTBOUND,
            Message.id > seen,
            Message.sent_by_user_id.is_not(None),
            Message.sent_by_user_id != user.id,
        )
        .limit(1)
    )
    return newer is not None


def _sms_content(session: Session, settings: Settings, conversation: Conversation, draft: Draft) -> str:
    """The SMS body for `draft`: the agent's text (its payment link filled) with the creditor named."""
    values = replies.values(session, settings, conversation, local_date(utcnow()), with_link=False)
    if sms_alternative.preview(settings, values) is None:
        raise ComposeError("Não há credor desta pessoa para identificar o SMS: escolha um modelo.")
    text = _text(session, settings, conversation, draft, sms_alternative.TEXT_MAX_CHARS)
    return sms_alternative.body(settings, values["credor"], values["cnpj"], text)


def _text(session: Session, settings: Settings, conversation: Conversation, draft: Draft, limit: int) -> str:
    """The agent's free text, checked, with the payment link in place of its preview."""
    text = draft.text.strip()
    if not text:
        raise ComposeError("Escreva a mensagem (ou escolha um modelo) antes de enviar.")
    if len(text) > limit:
        raise ComposeError(f"A mensagem passa de {limit} caracteres.")
    if replies.LINK_PREVIEW in text:
        today = local_date(utcnow())
        link = replies.values(session, settings, conversation, today, with_link=True)["link"]
        text = text.replace(replies.LINK_PREVIEW, link)
    return text


def _content(
    session: Session, settings: Settings, conversation: Conversation, found: Rules, draft: Draft
) -> tuple[str, str | None, dict[str, str] | None]:
    """The body, template SID and variables to save, after checking `draft` against the rules."""
    if draft.content_sid:
        choice = next((t for t in found.templates if t.content_sid == draft.content_sid), None)
        if choice is None:
            raise ComposeError("Este modelo não está entre os modelos aprovados deste credor.")
        today = local_date(utcnow())
        try:
            variables = choice.variables(
                replies.values(session, settings, conversation, today, with_link=True)
            )
        except RenderError:
            raise ComposeError("Faltam dados do devedor para preencher este modelo.") from None
        return (
            f"[modelo {choice.content_sid}] " + " | ".join(variables.values()),
            choice.content_sid,
            variables,
        )
    if not found.free_text:
        raise ComposeError(
            "Fora da janela de 24 horas do WhatsApp: texto livre não é entregue. Escolha um modelo aprovado."
        )
    return _text(session, settings, conversation, draft, TEXT_MAX_CHARS), None, None


def save(
    session: Session,
    settings: Settings,
    conversation_id: int,
    user: User,
    draft: Draft,
    now: datetime | None = None,
) -> Saved:
    """Check `draft` against the rules and save it as a pending outbound message under `user`, in the
    caller's transaction (the caller commits, then calls `deliver_now`). Raises `ComposeError` or
    `NotAllowed` (pt-BR)."""
    now = now or utcnow()
    if not draft.nonce or len(draft.nonce) > 64:
        raise ComposeError("Formulário inválido: recarregue a página.")
    conversation = _locked(session, conversation_id)
    existing = _by_nonce(session, draft.nonce)
    if existing is not None:
        if existing.conversation_id not in (
            conversation_id,
            *sms_alternative.linked_ids(session, conversation),
        ):
            raise ComposeError("Formulário inválido: recarregue a página.")
        return Saved(existing, duplicate=True)
    require_act_on_conversation(user, owner_id(conversation))
    found = rules(session, settings, conversation, now)
    if found.opted_out:
        raise ComposeError("Esta pessoa pediu para não receber mensagens neste canal: não é possível enviar.")
    if draft.via_sms and not found.sms:
        raise ComposeError("O envio por SMS não está disponível para esta conversa agora.")
    confirm = found.sms_needs_confirmation if draft.via_sms else found.needs_confirmation
    if confirm and not draft.confirmed:
        raise ComposeError(
            "Fora do horário permitido para contato de cobrança, e a pessoa não escreveu agora há pouco. "
            "Confirme que deseja enviar assim mesmo."
        )
    if _someone_else_answered(session, conversation_id, user, draft.seen_message_id):
        raise ComposeError(
            "Outra pessoa acabou de responder nesta conversa. Leia a resposta antes de enviar."
        )
    target = conversation
    if draft.via_sms:
        body = draft.sms_body or _sms_content(session, settings, conversation, draft)
        content_sid, variables = None, None
        target = sms_alternative.conversation_for(session, conversation.debtor)  # type: ignore[arg-type]
    else:
        body, content_sid, variables = _content(session, settings, conversation, found, draft)
    message = Message(
        conversation_id=target.id,
        direction=Direction.OUTBOUND,
        channel=target.channel,
        body=body,
        media=[],
        status=MessageStatus.PENDING,
        content_sid=content_sid,
        content_variables=variables,
        sent_by_user_id=user.id,
        client_nonce=draft.nonce,
    )
    try:
        with session.begin_nested():  # two submits at once: the second one's insert fails here
            session.add(message)
    except IntegrityError:
        existing = _by_nonce(session, draft.nonce)
        if existing is None:
            raise
        return Saved(existing, duplicate=True)
    thread.touch(conversation, user)
    audit.record(
        session,
        actor(user),
        "message.sent_by_agent",
        "message",
        message.id,
        conversation=conversation_id,
        template=content_sid,
        channel=Channel(target.channel).value,
        confirmed_outside_window=confirm,
    )
    return Saved(message)


def retry(session: Session, settings: Settings, conversation_id: int, message_id: int, user: User) -> Saved:
    """Send a failed agent message again, as a new message (the failed one stays, with its error). Safe to
    press twice: the retry's nonce is derived from the failed message, so it is saved (and sent) once."""
    failed = session.get(Message, message_id)
    conversation = session.get(Conversation, conversation_id)
    if failed is None or conversation is None or failed.sent_by_user_id is None:
        raise ComposeError("Mensagem não encontrada.")
    via_sms = failed.conversation_id != conversation_id
    if via_sms and failed.conversation_id not in sms_alternative.linked_ids(session, conversation):
        raise ComposeError("Mensagem não encontrada.")
    if failed.status not in thread.FAILED:
        raise ComposeError("Só uma mensagem que falhou pode ser reenviada.")
    draft = Draft(
        nonce=f"retry-{failed.id}",
        text="" if failed.content_sid else failed.body,
        content_sid=failed.content_sid,
        via_sms=via_sms,
        sms_body=failed.body if via_sms else None,
        confirmed=True,  # the agent confirmed (or needed not to) when writing it
    )
    return save(session, settings, conversation_id, user, draft)


def deliver_now(services: Services, conversation_id: int) -> None:
    """Send the conversation's pending messages now through the delivery path (bot.delivery); a retry or
    a message waiting behind an older one is left to the delivery job."""
    with services.database.session() as session:
        claimed, waits_until = outgoing.claim_conversation(session, services.settings, conversation_id)
    stop = sending.deliver(services.database, services.sender, claimed)
    retry_at = stop.retry_at if stop is not None else waits_until
    if retry_at is not None:
        services.later.deliver(conversation_id, retry_at if retry_at > utcnow() else None)
