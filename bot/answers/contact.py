"""Answers about the contact itself: stop writing to me (`parar`), let me talk to a person
(`falar_atendente`), and what the bot says when the NLU did not understand (`fallback`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot import optout, texts
from bot.answers.turns import Turn, conversation_of, own_message
from bot.config import Settings
from bot.conversation import handoff
from bot.delivery.outgoing import Reply
from bot.models import OptOutAction


def parar(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """Opt the number out of the conversation's channel (the NLU path of PARAR)."""
    conversation = conversation_of(session, turn)
    if conversation is None:
        return [Reply(texts.NO_ANSWER)]
    optout.record_for_conversation(
        session,
        conversation,
        OptOutAction.OPT_OUT,
        source="nlu",
        message_id=own_message(session, conversation, turn),
    )
    return [Reply(texts.opt_out_confirmed(conversation.channel))]


def falar_atendente(session: Session, settings: Settings, turn: Turn) -> list[Reply]:
    """Hand the conversation to a person and say when they will answer."""
    conversation = conversation_of(session, turn)
    if conversation is None:
        return [Reply(texts.NO_ANSWER)]
    if not handoff.request(session, conversation, actor="bot", reason="asked"):
        return [Reply(texts.HANDOFF_ALREADY)]
    return [Reply(texts.handoff(handoff.when_agents_answer(settings)))]


def fallback(misses: int) -> list[Reply]:
    """Ask to rephrase after the first miss; offer a person from the second consecutive miss on."""
    return [Reply(texts.FALLBACK_REPHRASE if misses <= 1 else texts.FALLBACK_OFFER_HUMAN)]


def consecutive_misses(events: list[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row the NLU could not understand (at least 1: this
    is asked when the fallback runs)."""
    misses = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        misses += 1
    return max(misses, 1)
