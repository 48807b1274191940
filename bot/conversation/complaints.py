"""Complaints and legal threats ("vou no Procon", "meu advogado", "Reclame Aqui"): to a person, first.

Read deterministically, before the NLU, so that no model confidence decides whether a threat of legal
action is taken seriously. Such a message is not a dispute (it opens no case and holds no invoice):
the conversation goes to a person with a priority reason that agents see, the debtor gets a polite
answer (CDC art. 42: no threats, no embarrassment), and while a person has the conversation the
reminders of that debtor wait (bot.reminders.dispatch defers them for any conversation not with the bot).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.orm import Session

from bot.conversation import handoff
from bot.models import Conversation

LEGAL_THREAT, COMPLAINT = handoff.PRIORITY_REASONS

# Accent-folded, lower-case, on word boundaries ("processo" but not "processamento").
# "processo" alone is also "o processo pra fazer acordo": only a lawsuit counts ("entrar com processo",
# "vai dar processo", "processo judicial", "processar vocês").
_LEGAL = re.compile(
    r"\b(procon|advogad[oa]s?|processar|processarei|processo (judicial|contra)|"
    r"(entr\w*|abr\w*|mov\w*|dar|da|abertura de) (com |um |uma )?processo|justica|juizado|juiz|"
    r"tribunal|defensoria|acao judicial|danos morais)\b"
)
_COMPLAINT = re.compile(r"\b(reclame ?aqui|reclamacao|reclamar|ouvidoria|consumidor\.gov)\b")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def reason_in(text: str) -> str | None:
    """`legal_threat` or `complaint` when the message threatens legal action or a public complaint;
    None otherwise."""
    folded = _fold(text or "")
    if _LEGAL.search(folded):
        return LEGAL_THREAT
    if _COMPLAINT.search(folded):
        return COMPLAINT
    return None


def escalate(session: Session, conversation: Conversation, reason: str) -> bool:
    """Hand the conversation to a person with `reason` (a priority in the agents' queue). False when it
    was already waiting for or with a person (the reason is still recorded if it had none)."""
    requested = handoff.request(session, conversation, actor="bot", reason=reason)
    if not requested and conversation.handoff_reason is None:
        conversation.handoff_reason = reason
    return requested
