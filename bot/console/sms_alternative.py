"""SMS when WhatsApp's 24-hour window is closed (issue 16 §4): outside it WhatsApp delivers only an approved
template, so the composer also offers the debtor's phone by SMS, which has no such window.

The SMS is a message of the debtor's SMS conversation (channel `sms`, their phone: the same conversation
the régua's SMS reminders use, created when missing), because a message is sent on its conversation's
channel and address (bot.delivery.outgoing). The WhatsApp thread shows the agents' SMS to that debtor in
their place (`linked_ids`), marked "por SMS", and links to the SMS conversation, where a reply by SMS lands.

The text names who is writing, like the régua's SMS reminders (CDC art. 42-A: the creditor and its CNPJ),
and says how to stop (`bot.texts.AGENT_SMS`); `SMS_ECONOMY` applies as for reminders.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import texts
from bot.config import Settings
from bot.delivery.outgoing import Reply
from bot.models import Channel, Conversation, Debtor
from bot.optout import is_opted_out
from bot.reminders import sms

# What the agent writes; the creditor's line and the way to stop come on top (a few SMS segments in all).
TEXT_MAX_CHARS = 480


def available(session: Session, settings: Settings, conversation: Conversation) -> bool:
    """True when the conversation's debtor (known, with a phone) may be written to by SMS: not opted out
    of SMS (`Debtor.opted_out`, and the number's own opt-out events)."""
    debtor = conversation.debtor
    if conversation.channel != Channel.WHATSAPP or debtor is None or not debtor.phone:
        return False
    if debtor.opted_out(Channel.SMS):
        return False
    return not is_opted_out(session, Channel.SMS, debtor.phone, debtor, key=settings.erasure_key)


def body(settings: Settings, creditor: str, cnpj: str, text: str) -> str:
    """The SMS for the agent's `text`: the creditor's name and CNPJ first, how to stop last (GSM-7 in
    economy mode)."""
    message = texts.AGENT_SMS.format(creditor=texts.creditor_line(creditor, cnpj), text=text)
    return sms.to_gsm7(message) if settings.sms_economy else message


def charge(settings: Settings, replies: list[Reply]) -> list[Reply]:
    """A charge's messages (bot.answers.debts.charge_replies for SMS: the summary names the creditor and
    its CNPJ) sent by SMS from the console: the summary also says how to stop (GSM-7 in economy mode)."""
    summary, *codes = replies
    text = f"{summary.text}\n{texts.SMS_STOP_HINT}"
    return [Reply(sms.to_gsm7(text) if settings.sms_economy else text), *codes]


def preview(settings: Settings, values: dict[str, str]) -> str | None:
    """What the agent's SMS will look like around their text ("…"), from the placeholder values of
    bot.console.replies; None when the debtor has no creditor to name (then no SMS can go)."""
    if not values["credor"]:
        return None
    return body(settings, values["credor"], values["cnpj"], "…")


def conversation_for(session: Session, debtor: Debtor) -> Conversation:
    """The debtor's SMS conversation (their phone), created when it does not exist yet; safe when two
    requests create it at once (the second finds the first's)."""
    wanted = select(Conversation).where(
        Conversation.channel == Channel.SMS, Conversation.address == debtor.phone
    )
    found = session.scalar(wanted)
    if found is not None:
        return found
    created = Conversation(channel=Channel.SMS, address=debtor.phone, debtor_id=debtor.id)
    try:
        with session.begin_nested():
            session.add(created)
    except IntegrityError:
        return session.scalars(wanted).one()
    return created


def linked_ids(session: Session, conversation: Conversation) -> list[int]:
    """The SMS conversations of a WhatsApp conversation's debtor (by debtor or by their phone): where
    the agents' SMS to them went."""
    debtor = conversation.debtor
    if conversation.channel != Channel.WHATSAPP or debtor is None:
        return []
    # By phone too: an SMS conversation the debtor opened is not linked to them until they are identified.
    mine = or_(Conversation.debtor_id == debtor.id, Conversation.address == debtor.phone)
    return list(session.scalars(select(Conversation.id).where(Conversation.channel == Channel.SMS, mine)))
