"""The NLU inbox (issue 17 §2): the messages worth a person's look, grouped by similar text.

A message is in the inbox until ops decide about it (bot.nlu_ops.review) when the model was unsure of it
(confidence below `NLU_INBOX_THRESHOLD`), did not understand it (`nlu_fallback`, or `fora_de_escopo`), an
agent flagged it ("o robô não entendeu"), or it came shortly before a hand-over to a person that followed
a misunderstanding. Texts are masked (`bot.redaction.mask_message`) and normalised (case, accents,
punctuation, spaces) before grouping, so "Ja paguei!!" and "já paguei" are one group; groups come most
frequent first.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from bot.models import AuditLog, Message, MessagePrediction, utcnow
from bot.redaction import mask_message
from bot.text_folding import fold_accents

# What the model answers when it did not understand: the fallback, and the intent for "not our business".
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "fora_de_escopo"
# A hand-over counts as following a misunderstanding when a miss came this long before it; the messages
# of that window are in the inbox.
HANDOFF_WINDOW = timedelta(minutes=10)
HANDOFF_ACTION = "conversation.handoff_requested"

# Why a message is in the inbox, as ops read it.
REASONS = {
    "low_confidence": "baixa confiança",
    "fallback": "não entendida",
    "flagged": "marcada por agente",
    "handoff": "antes de transferência",
}


@dataclass(frozen=True)
class InboxItem:
    """One message in the inbox: its masked text, what the model predicted and why it is here."""

    prediction_id: int
    message_id: int
    conversation_id: int
    text: str  # masked
    intent: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    received_at: datetime
    entities: tuple[tuple[str, str], ...] = ()  # predicted (entity, masked value)


@dataclass(frozen=True)
class InboxGroup:
    """Messages with the same normalised, masked text: the inbox's unit (bulk actions act on a group)."""

    key: str  # a short stable id of the normalised text
    text: str  # the most recent message's masked text
    items: list[InboxItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many messages the group holds."""
        return len(self.items)

    @property
    def intent(self) -> str | None:
        """The intent the model predicted most often for the group (None: never read by the model)."""
        counts = Counter(i.intent for i in self.items if i.intent)
        return counts.most_common(1)[0][0] if counts else None

    @property
    def confidence(self) -> float | None:
        """The mean confidence of the group's predictions (None: none has one)."""
        values = [i.confidence for i in self.items if i.confidence is not None]
        return sum(values) / len(values) if values else None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason its messages are in the inbox, in `REASONS` order."""
        found = {r for i in self.items for r in i.reasons}
        return tuple(r for r in REASONS if r in found)

    @property
    def entities(self) -> tuple[tuple[str, str], ...]:
        """The entities predicted for the group's most recent message (entity, masked value)."""
        return self.items[0].entities if self.items else ()

    @property
    def prediction_ids(self) -> list[int]:
        """The ids a bulk action acts on."""
        return [i.prediction_id for i in self.items]


_PUNCTUATION = re.compile(r"[^\w<>\s]+")


def normalise(masked: str) -> str:
    """The grouping form of a masked text: lower case, no accents, no punctuation, single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", fold_accents(masked).casefold()).split())


def group_key(masked: str) -> str:
    """A short stable id of a text's group (the same text gets the same key in every listing)."""
    return hashlib.sha256(normalise(masked).encode()).hexdigest()[:8]


def pending(
    session: Session, threshold: float, *, days: int = 30, now: datetime | None = None
) -> list[InboxGroup]:
    """The undecided messages of the last `days` that belong in the inbox, grouped by similar text, the
    largest group first (then the most recent)."""
    since = (now or utcnow()) - timedelta(days=days)
    merged: dict[int, InboxItem] = {}
    for item in _candidates(session, threshold, since) + _before_handoffs(session, threshold, since):
        known = merged.get(item.prediction_id)
        merged[item.prediction_id] = item if known is None else _with_reasons(known, item.reasons)
    groups: dict[str, InboxGroup] = {}
    for item in sorted(merged.values(), key=lambda i: (i.received_at, i.message_id), reverse=True):
        key = group_key(item.text)
        groups.setdefault(key, InboxGroup(key, item.text)).items.append(item)
    return sorted(groups.values(), key=lambda g: (-g.count, -g.items[0].received_at.timestamp(), g.key))


def find_group(session: Session, threshold: float, key: str, *, days: int = 30) -> InboxGroup | None:
    """The inbox group with `key` (as listed), or None when it is gone (decided, or never there)."""
    return next((g for g in pending(session, threshold, days=days) if g.key == key), None)


def _undecided(since: datetime) -> Select[tuple[MessagePrediction, Message]]:
    """Undecided predictions of messages received since `since` whose text is still kept."""
    return (
        select(MessagePrediction, Message)
        .join(Message, Message.id == MessagePrediction.message_id)
        .where(
            MessagePrediction.verdict.is_(None),
            Message.created_at >= since,
            Message.redacted_at.is_(None),
            Message.body != "",
        )
    )


def _misses(threshold: float) -> ColumnElement[bool]:
    return or_(
        MessagePrediction.confidence < threshold,
        MessagePrediction.intent.in_((FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)),
    )


def _candidates(session: Session, threshold: float, since: datetime) -> list[InboxItem]:
    query = _undecided(since).where(or_(_misses(threshold), MessagePrediction.flagged_at.is_not(None)))
    return [_item(p, m, threshold) for p, m in session.execute(query)]


def _before_handoffs(session: Session, threshold: float, since: datetime) -> list[InboxItem]:
    """The messages of the `HANDOFF_WINDOW` before each hand-over whose window holds a miss. Hand-overs are
    few next to messages, so their conversations are read whole and the windows cut here."""
    handoffs: dict[int, list[datetime]] = {}
    query = select(AuditLog.entity_id, AuditLog.created_at).where(
        AuditLog.action == HANDOFF_ACTION,
        AuditLog.entity_type == "conversation",
        AuditLog.created_at >= since,
    )
    for entity_id, at in session.execute(query):
        if entity_id and entity_id.isdigit():
            handoffs.setdefault(int(entity_id), []).append(at)
    if not handoffs:
        return []
    rows = session.execute(_undecided(since - HANDOFF_WINDOW).where(Message.conversation_id.in_(handoffs)))
    by_conversation: dict[int, list[InboxItem]] = {}
    for prediction, message in rows:
        by_conversation.setdefault(message.conversation_id, []).append(_item(prediction, message, threshold))
    found = []
    for conversation_id, items in by_conversation.items():
        for at in handoffs[conversation_id]:
            window = [i for i in items if at - HANDOFF_WINDOW <= i.received_at <= at]
            if any(set(i.reasons) & {"low_confidence", "fallback"} for i in window):
                found += [_with_reasons(i, ("handoff",)) for i in window]
    return found


def _item(prediction: MessagePrediction, message: Message, threshold: float) -> InboxItem:
    reasons = []
    if prediction.confidence is not None and prediction.confidence < threshold:
        reasons.append("low_confidence")
    if prediction.intent in (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT):
        reasons.append("fallback")
    if prediction.flagged_at is not None:
        reasons.append("flagged")
    return InboxItem(
        prediction_id=prediction.id,
        message_id=message.id,
        conversation_id=message.conversation_id,
        text=shown_text(message.body),
        intent=prediction.intent,
        confidence=prediction.confidence,
        reasons=tuple(reasons),
        received_at=message.created_at,
        entities=tuple(
            (str(e.get("entity") or ""), str(e.get("value") or "")) for e in prediction.entities or ()
        ),
    )


def shown_text(body: str) -> str:
    """A message as the inbox shows it (and as ops annotate it): masked, on one line."""
    return mask_message(" ".join(body.split()))


def _with_reasons(item: InboxItem, more: tuple[str, ...]) -> InboxItem:
    reasons = tuple(r for r in REASONS if r in {*item.reasons, *more})
    return InboxItem(**{**item.__dict__, "reasons": reasons})
