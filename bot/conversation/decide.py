"""The decision table: what a ready message needs, decided in the lease's transaction (`look`).

In order, for the conversation's next ready message:

1. PARAR / VOLTAR and similar keywords: opt out or back in, one confirmation, no NLU.
2. Conversation with (or waiting for) an agent: the message is stored for the agent; the bot is silent.
3. Reply-loop guard: an automated sender repeating itself gets no more answers (bot.conversation.abuse).
4. A complaint or legal threat (Procon, advogado, Reclame Aqui): to a person, with priority.
5. Answer to the identity question (first 3 CPF digits): checked here, not by the NLU.
6. A photo or PDF alone: attached to an open "já paguei" claim as the receipt, or acknowledged.
7. A reply to a pending agreement offer (an option number, "6x", "sim", "não"): bot.agreements, with
   Rasa's parser when only it can tell (`answer_offer_with_nlu`).
8. Anything else goes to Rasa: the `Step` says what to ask (bot.conversation.rasa_turn asks it).

A message answered without NLU has its replies saved and claimed for sending in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import optout, texts
from bot.agreements import offers
from bot.answers import claims, negotiation
from bot.config import Settings
from bot.conversation import abuse, complaints, entities, first_look, handoff, identity
from bot.delivery import outgoing
from bot.delivery.outgoing import Outgoing, Reply
from bot.models import Conversation, ConversationState, Message, OptOutAction, Processing, utcnow
from bot.rasa.client import RasaUnavailable
from bot.runtime import Services


@dataclass
class Step:
    """What the first look at a ready message decided (`look`), inside the lease's transaction.

    Either the message is already answered (`claimed` replies to send, committed with the answer), or
    it needs Rasa: `rasa_text` for a turn, or, with `offer_nlu`, for the parser first, when it may
    answer a pending agreement offer and only the parser can tell. Rasa is called outside any
    transaction."""

    message_id: int
    claimed: list[Outgoing]
    waits_until: datetime | None = None
    rasa_text: str | None = None
    metadata: dict[str, object] | None = None
    offer_nlu: bool = False
    # For a Rasa turn: the conversation as the look saw it (detached once that transaction commits; its
    # columns stay loaded), to address the replies without reading it again.
    conversation: Conversation | None = None

    @property
    def needs_rasa(self) -> bool:
        """True when carrying the step out starts with a call to Rasa."""
        return self.rasa_text is not None


def look(
    services: Services, session: Session, message_id: int, facts: first_look.Facts | None = None
) -> Step:
    """Decide what a ready message needs, in the lease's transaction: answer it now if no NLU is
    needed (its replies saved and claimed), else say what to ask Rasa. `facts`: what the webhook's
    statement already read for this message (else they are read here, when first needed)."""
    settings = services.settings
    message = session.get_one(Message, message_id)
    conversation = message.conversation
    replies: list[Reply] = []
    outcome = Processing.DONE
    keyword = optout.keyword_action(message.body) if message.body else None
    if keyword is not None:
        optout.record_for_conversation(
            session, conversation, keyword, source="keyword", message_id=message.id
        )
        confirm = texts.opt_out_confirmed if keyword == OptOutAction.OPT_OUT else texts.opt_in_confirmed
        replies = [Reply(confirm(conversation.channel))]
    elif conversation.state != ConversationState.BOT:
        outcome = Processing.FOR_AGENT
    # Without the webhook's facts (a worker's look), they are read here, once the checks above passed:
    # a keyword or an agent's conversation costs no query for them.
    elif _is_reply_loop(message, facts := facts or first_look.facts_for(session, message, utcnow())):
        outcome, message.processing_note = Processing.IGNORED, "reply_loop"
    elif message.body and (reason := complaints.reason_in(message.body)) is not None:
        # Legal threats and complaints go to a person before any NLU: never a dispute, never ignored.
        complaints.escalate(session, conversation, reason)
        replies = [Reply(texts.complaint_received(handoff.when_agents_answer(settings)))]
    elif (
        identity.awaiting_answer(settings, conversation)
        and (answer := identity.check_answer(settings, conversation, message.body))
        != identity.Answer.NOT_AN_ANSWER
    ):
        replies = _verification_replies(session, conversation, answer)
    elif not message.body.strip():
        if message.media and claims.attach_receipt(session, conversation, message):
            replies = [Reply(texts.RECEIPT_RECEIVED)]
        else:
            replies = [Reply(texts.MEDIA_RECEIVED if message.media else texts.NO_ANSWER)]
    elif facts.offer_pending and offers.current_offer(session, conversation.id):
        # Read without NLU first ("2", "sim"); only if that fails is Rasa's parser needed.
        offer_replies = negotiation.answer_offer(session, settings, conversation, message)
        if offer_replies is None:
            return Step(message.id, [], rasa_text=message.body, offer_nlu=True)
        replies = offer_replies
    else:
        return _rasa_step(conversation, message)
    claimed, waits_until = _finish(session, settings, conversation, message, outcome, replies)
    return Step(message.id, claimed, waits_until)


def _is_reply_loop(message: Message, facts: first_look.Facts) -> bool:
    """The reply-loop guard (bot.conversation.abuse) on the counts `facts` read."""
    return abuse.looks_like_reply_loop(message.body, facts.same_text, facts.answered)


def _rasa_step(conversation: Conversation, message: Message) -> Step:
    metadata: dict[str, object] = {
        "conversation_id": conversation.id,
        "message_id": message.id,
        "channel": conversation.channel.value,
        "debtor_id": conversation.debtor_id,
        "media": message.media or [],
    }
    return Step(message.id, [], rasa_text=message.body, metadata=metadata, conversation=conversation)


def answer_offer_with_nlu(services: Services, step: Step) -> Step:
    """A message that may answer a pending agreement offer, read with Rasa's `/model/parse` (the
    `parcelas` entity, afirmar/negar); if it does not answer the offer, it goes on to a Rasa turn."""
    try:
        parsed: dict[str, Any] | None = services.rasa.parse(step.rasa_text or "")
    except RasaUnavailable:
        parsed = None
    with services.database.session() as session:
        message = session.get_one(Message, step.message_id)
        conversation = message.conversation
        if message.processing != Processing.PENDING:  # an agent or a parallel run dealt with it
            return Step(message.id, [])
        if parsed is not None:
            parcelas = entities.first_value(message.body, parsed.get("entities") or [], "parcelas")
            intent = (parsed.get("intent") or {}).get("name")
            replies = negotiation.answer_offer(
                session, services.settings, conversation, message, parcelas, intent
            )
            if replies is not None:
                claimed, waits_until = _finish(
                    session, services.settings, conversation, message, Processing.DONE, replies
                )
                return Step(message.id, claimed, waits_until)
        return _rasa_step(conversation, message)


def _verification_replies(
    session: Session, conversation: Conversation, answer: identity.Answer
) -> list[Reply]:
    if answer == identity.Answer.CORRECT:
        assert conversation.debtor is not None
        replies = [Reply(texts.verify_ok(conversation.debtor.first_name))]
        # The message that made us ask is answered now, in its place in the conversation.
        held = session.get(Message, conversation.held_message_id) if conversation.held_message_id else None
        if held is not None and held.conversation_id == conversation.id:
            held.processing = Processing.PENDING
            held.next_attempt_at = None
        conversation.held_message_id = None
        return replies
    if answer == identity.Answer.LOCKED:
        return [Reply(texts.VERIFY_LOCKED)]
    return [Reply(texts.VERIFY_WRONG)]


def _finish(
    session: Session,
    settings: Settings,
    conversation: Conversation,
    message: Message,
    outcome: Processing,
    replies: list[Reply],
) -> outgoing.Claimed:
    """Mark the message handled and save its replies, claimed for sending in the same transaction (one
    commit instead of three); returns the claimed replies and, if an older reply waits for a retry, its
    retry time (the new ones wait behind it)."""
    message.processing = outcome
    message.processed_at = utcnow()
    message.next_attempt_at = None
    if not replies:
        return outgoing.Claimed([], None)
    return outgoing.save_and_claim(session, settings, conversation, replies, in_reply_to_id=message.id)
