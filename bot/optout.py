"""Opt-out and opt-in: the deterministic keywords, and recording every change as an `OptOutEvent`.

A message that is only an opt-out word (PARAR, SAIR, STOP, CANCELAR, DESCADASTRAR, ...: any case, with or
without accents, punctuation or emojis) opts the number out of that channel before any NLU runs; VOLTAR
opts it back in. Free text ("nao quero mais receber isso") reaches the same `opt_out` through the NLU
intent `parar` and its action. Proactive messages check `is_opted_out` right before sending.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.models import Channel, Conversation, Debtor, OptOutAction, OptOutEvent, utcnow
from bot.privacy.subjects import keyed_hash
from bot.text_folding import fold_accents

OPT_OUT_WORDS = frozenset(
    {
        "parar", "pare", "para", "sair", "stop", "stopall", "cancelar", "cancela", "cancele", "cancel",
        "descadastrar", "descadastre", "descadastra", "remover", "remova", "unsubscribe", "end", "quit",
        "parar mensagens", "parar de enviar", "nao enviar", "bloquear",
    }
)  # fmt: skip
OPT_IN_WORDS = frozenset({"voltar", "volta", "start", "unstop", "reativar", "reativa"})

_NOT_WORDS = re.compile(r"[^a-z ]+")


def _plain(text: str) -> str:
    """Lower case, no accents, no punctuation, digits or emojis, single spaces."""
    letters = fold_accents(text.lower())
    return " ".join(_NOT_WORDS.sub(" ", letters).split())


def keyword_action(body: str) -> OptOutAction | None:
    """`OPT_OUT` or `OPT_IN` when the whole message is one of the keywords; None otherwise."""
    words = _plain(body or "")
    if words in OPT_OUT_WORDS:
        return OptOutAction.OPT_OUT
    if words in OPT_IN_WORDS:
        return OptOutAction.OPT_IN
    return None


def _stamp_column(channel: Channel, action: OptOutAction) -> str:
    suffix = "opted_out_at" if action == OptOutAction.OPT_OUT else "consent_at"
    return f"{Channel(channel).value}_{suffix}"


def record(
    session: Session,
    *,
    channel: Channel,
    address: str,
    action: OptOutAction,
    source: str,
    debtor: Debtor | None = None,
    message_id: int | None = None,
) -> OptOutEvent:
    """Apply an opt-out or opt-in to `address` on `channel` (and to its debtor, when known).

    An opt-in clears the opt-out and records consent (the debtor asked to hear from us again).
    Every call leaves an `OptOutEvent` and an audit entry, even when nothing changed: the history is
    the evidence.
    """
    now = utcnow()
    if debtor is not None:
        if action == OptOutAction.OPT_OUT:
            setattr(debtor, _stamp_column(channel, action), now)
        else:
            setattr(debtor, f"{Channel(channel).value}_opted_out_at", None)
            setattr(debtor, _stamp_column(channel, action), now)
    event = OptOutEvent(
        debtor_id=debtor.id if debtor is not None else None,
        channel=channel,
        address=address,
        action=action,
        source=source,
        message_id=message_id,
    )
    session.add(event)
    audit.record(
        session,
        f"debtor:{debtor.id}" if debtor is not None else "system",
        f"channel.{action.value}",
        "debtor" if debtor is not None else None,
        str(debtor.id) if debtor is not None else None,
        channel=Channel(channel).value,
        source=source,
    )
    return event


def record_for_conversation(
    session: Session,
    conversation: Conversation,
    action: OptOutAction,
    *,
    source: str,
    message_id: int | None = None,
) -> OptOutEvent:
    """`record` for the conversation's channel, number and debtor."""
    return record(
        session,
        channel=conversation.channel,
        address=conversation.address,
        action=action,
        source=source,
        debtor=conversation.debtor,
        message_id=message_id,
    )


def is_opted_out(
    session: Session,
    channel: Channel,
    address: str,
    debtor: Debtor | None = None,
    *,
    key: bytes | None = None,
) -> bool:
    """True when proactive messages to `address` on `channel` are forbidden.

    The debtor's flag decides when there is one; for a number without a debtor (or a number that opted
    out before it was linked to one) the latest event on that address decides. With the privacy `key`
    (`Settings.erasure_key`), events of erased people, which hold a keyed hash of the number, count too.
    """
    if debtor is not None and debtor.opted_out(channel):
        return True
    addresses = [address] if key is None else [address, keyed_hash(key, address)]
    latest = session.scalar(
        select(OptOutEvent.action)
        .where(OptOutEvent.channel == channel, OptOutEvent.address.in_(addresses))
        .order_by(OptOutEvent.id.desc())
        .limit(1)
    )
    return latest == OptOutAction.OPT_OUT
