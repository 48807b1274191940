"""What ops decide about messages in the NLU inbox, one at a time or a group at once (with the entities
they mark on the masked text, bot.nlu_ops.annotations), and an agent's flag "o robô não entendeu" (issue
17 §2). Every decision is audited; permissions are `bot.people.roles`'."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.console.assignments import owner_id
from bot.models import Direction, Message, MessagePrediction, NluVerdict, User, utcnow
from bot.nlu_ops import annotations
from bot.nlu_ops.annotations import Annotation
from bot.nlu_ops.inbox import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, shown_text
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, can_see_conversation, require


class ReviewError(ValueError):
    """The decision cannot be made as asked; the message is pt-BR, for the person."""


@dataclass(frozen=True)
class Marks:
    """The entities ops marked for the messages being decided (bot.nlu_ops.annotations), and the
    domain's entities they must be among."""

    annotations: Sequence[Annotation] = ()
    entities: Collection[str] = ()


NO_MARKS = Marks()


def confirm(session: Session, prediction_ids: Iterable[int], user: User, marks: Marks = NO_MARKS) -> int:
    """The predicted intent is right for each message, with the entities in `marks`; returns how many
    were decided. A message the model did not understand (or never read) has no intent to confirm, and
    annotations must fit each message's masked text: ReviewError, nothing decided."""
    require(user, Permission.NLU_INBOX)
    rows = _undecided(session, prediction_ids)
    if any(not row.intent or row.intent == FALLBACK_INTENT for row in rows):
        raise ReviewError("O robô não reconheceu uma intenção nesta mensagem: escolha a intenção certa.")
    placed = _placed(rows, marks)
    for row in rows:
        verdict = NluVerdict.OUT_OF_SCOPE if row.intent == OUT_OF_SCOPE_INTENT else NluVerdict.CONFIRMED
        _decide(session, row, verdict, row.intent, user, placed[row.id])
    return len(rows)


def relabel(
    session: Session,
    prediction_ids: Iterable[int],
    intent: str,
    user: User,
    *,
    intents: Collection[str],
    marks: Marks = NO_MARKS,
) -> int:
    """The messages mean `intent` (one of `intents`, the domain's; `fora_de_escopo` marks them out of
    scope), with the entities in `marks`; returns how many were decided."""
    require(user, Permission.NLU_INBOX)
    if intent not in intents or intent == FALLBACK_INTENT:
        raise ReviewError(f"Intenção desconhecida: {intent!r}.")
    rows = _undecided(session, prediction_ids)
    placed = _placed(rows, marks)
    for row in rows:
        if intent == OUT_OF_SCOPE_INTENT:
            verdict = NluVerdict.OUT_OF_SCOPE
        else:
            verdict = NluVerdict.CONFIRMED if intent == row.intent else NluVerdict.RELABELLED
        _decide(session, row, verdict, intent, user, placed[row.id])
    return len(rows)


def _placed(rows: Sequence[MessagePrediction], marks: Marks) -> dict[int, list[dict[str, str]] | None]:
    """Each row's annotations placed on its message's masked text (checked for all rows before any is
    decided, so a refusal decides nothing)."""
    placed: dict[int, list[dict[str, str]] | None] = {}
    for row in rows:
        text = shown_text(row.message.body)
        try:
            found = annotations.resolve(text, marks.annotations, marks.entities)
        except annotations.AnnotationError as error:
            # The messages of a group differ in case at most: a substring typed from the card may be in
            # another case in one of them (stored as that message has it).
            try:
                found = annotations.resolve(text, marks.annotations, marks.entities, any_case=True)
            except annotations.AnnotationError:
                raise ReviewError(str(error)) from None
        placed[row.id] = [{"entity": a["entity"], "value": a["value"]} for a in found] or None
    return placed


def discard(session: Session, prediction_ids: Iterable[int], user: User) -> int:
    """The messages teach the model nothing (noise, personal details): out of the inbox, never exported;
    returns how many were decided."""
    require(user, Permission.NLU_INBOX)
    rows = _undecided(session, prediction_ids)
    for row in rows:
        _decide(session, row, NluVerdict.DISCARDED, None, user)
    return len(rows)


def flag(session: Session, message_id: int, user: User) -> MessagePrediction:
    """An agent says the bot misunderstood inbound message `message_id` of a conversation they may see: it
    goes to the inbox (back to it, if ops had decided about it). Flagging twice changes nothing."""
    message = session.get(Message, message_id)
    if message is None or message.direction != Direction.INBOUND:
        raise ReviewError("Só mensagens recebidas do cliente podem ser marcadas.")
    if not can_see_conversation(user, owner_id(message.conversation)):
        raise NotAllowed("Você não tem permissão para fazer isso.")
    row = session.scalar(select(MessagePrediction).where(MessagePrediction.message_id == message.id))
    if row is None:  # the model never read it (a person had the conversation): a row without a prediction
        row = MessagePrediction(message_id=message.id, ranking=[], entities=[])
        session.add(row)
    if row.flagged_at is None:
        row.flagged_at, row.flagged_by_user_id = utcnow(), user.id
        if row.verdict is not None:  # decided before: back in the inbox for a second look
            row.verdict, row.label, row.reviewed_at, row.exported_at = None, None, None, None
            row.annotations = None
        session.flush()
        audit.record(
            session,
            accounts.actor(user),
            "nlu.flagged",
            "message",
            message.id,
            conversation=message.conversation_id,
        )
    return row


def _undecided(session: Session, prediction_ids: Iterable[int]) -> list[MessagePrediction]:
    ids = sorted(set(prediction_ids))
    if not ids:
        return []
    query = (
        select(MessagePrediction)
        .where(MessagePrediction.id.in_(ids), MessagePrediction.verdict.is_(None))
        .order_by(MessagePrediction.id)
        .with_for_update()
    )
    return list(session.scalars(query))


def _decide(
    session: Session,
    row: MessagePrediction,
    verdict: NluVerdict,
    label: str | None,
    user: User,
    marked: list[dict[str, str]] | None = None,
) -> None:
    row.verdict, row.label, row.annotations = verdict, label, marked
    row.reviewed_at, row.reviewed_by_user_id = utcnow(), user.id
    # Ids, labels and entity names only: the message text (and so the marked substrings) stays out.
    audit.record(
        session,
        accounts.actor(user),
        "nlu.reviewed",
        "message_prediction",
        row.id,
        verdict=verdict.value,
        label=label,
        predicted=row.intent,
        entities=[m["entity"] for m in marked or ()],
    )
