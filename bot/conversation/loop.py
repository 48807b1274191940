"""The processing loop: a conversation's pending inbound messages answered one at a time, in order, and
their replies delivered.

`process_conversation` is what the RQ worker runs after the webhook saved a message; `answer_inline` is
what the webhook runs itself, within its time budget, going on from its own claim. Each message is
looked at under the lease (bot.conversation.claiming, deciding with bot.conversation.decide), carried
out (bot.conversation.rasa_turn), and its replies sent or held for the webhook's TwiML response: at
most `TWIML_MAX_REPLIES` (Twilio's limit), else they go through the REST API in order. Sending is all
here (the calls into bot.delivery.sending), never inside a transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from bot.conversation import claiming, leases, rasa_turn
from bot.conversation.claiming import Lease
from bot.conversation.rasa_turn import Done
from bot.delivery import outgoing, sending
from bot.delivery.outgoing import Outgoing
from bot.models import utcnow
from bot.runtime import Services

log = logging.getLogger(__name__)


@dataclass
class Inline:
    """What `answer_inline` left: whether a message may still be waiting for someone to answer it (the
    caller hands the conversation to a worker), and, when it was asked to hold them, the claimed replies
    to hand to Twilio in the webhook's own TwiML response."""

    left: bool
    replies: list[Outgoing] = field(default_factory=list)


# Twilio takes at most this many <Message> replies in one webhook response (warning 14109 beyond).
TWIML_MAX_REPLIES = 10


def process_conversation(services: Services, conversation_id: int, *, deadline: float | None = None) -> bool:
    """Answer the conversation's pending messages in order. True if it handled any.

    `deadline` (a `time.monotonic()` value) stops before starting a message, or sending a reply, after
    it: the webhook's inline mode uses it to stay inside Twilio's 15 seconds (see `answer_inline`).
    """
    return _process(services, conversation_id, deadline, None, hold=False)[0]


def answer_inline(
    services: Services,
    conversation_id: int,
    deadline: float,
    lease: Lease | None = None,
    *,
    hold: bool = False,
) -> Inline:
    """`process_conversation` within `deadline`, going on from `lease` (the webhook's `claim`) if given.

    With `hold`, the replies are not sent: they come back in `Inline.replies`, claimed (`sending`), for
    the webhook to return as TwiML, whose `<Message action=...>` status callbacks record their SIDs.
    They are sent through the API after all, in order, when the response cannot carry them: more than
    Twilio's 10, an outage notice to send first, or a message left for a worker (its replies must not
    overtake them)."""
    _, left, replies = _process(services, conversation_id, deadline, lease, hold=hold)
    return Inline(left, replies)


def _process(
    services: Services, conversation_id: int, deadline: float | None, lease: Lease | None, *, hold: bool
) -> tuple[bool, bool, list[Outgoing]]:
    """(handled any, maybe left one, held replies): see `process_conversation` and `answer_inline`.

    Sending, each message costs three short transactions on one connection: the look (with the claim,
    or with the previous message's sends recorded), the answer after Rasa (saved with its replies,
    claimed for sending), and the next look (recording this message's sends). Holding the replies for
    the response, the answer and the next look share one transaction: two per message."""
    database = services.database
    worked = False
    held: list[Outgoing] = []
    with database.one_connection():
        if lease is None:
            with database.session() as session:
                lease = claiming.claim(services, session, conversation_id)
        renewed = time.monotonic()
        while lease.held:
            step = lease.step
            assert step is not None  # a held lease always comes with the message it was claimed for
            if step.needs_rasa and deadline is not None and time.monotonic() > deadline:
                claiming.let_go(database, conversation_id, lease.owner)
                lease = Lease(lease.owner, held=False, busy=True)
                break
            # (A message the look already answered is carried out even after the deadline: its replies,
            # claimed with the answer, go back to `pending` for a delivery job instead of being sent.)
            worked = True
            renew = time.monotonic() - renewed > leases.LEASE.total_seconds() / 2
            if renew:
                renewed = time.monotonic()
            try:
                done = rasa_turn.carry_out(
                    services, conversation_id, step, lease.owner if hold else None, renew
                )
            except BaseException:
                claiming.let_go(database, conversation_id, lease.owner)
                try:  # replies already claimed for earlier messages still go out
                    _send_held(services, conversation_id, held, deadline)
                except Exception:
                    log.exception(
                        "conversation %s: held replies not sent; the sweep settles them", conversation_id
                    )
                raise
            if hold and (done.notice or len(held) + len(done.claimed) > TWIML_MAX_REPLIES):
                hold = False  # from here on the replies go through the API, the held ones first
            sent = None
            if hold:
                held.extend(done.claimed)
            elif held or done.claimed:
                sent = sending.send(services.sender, held + done.claimed, deadline=deadline)
                held = []
            stop = None
            if done.next_lease is not None and sent is None:
                lease = done.next_lease
            else:
                lease = _record_and_next(services, conversation_id, lease, done, sent, renew)
                stop = lease.stop
            if done.retry_at is not None:
                services.later.process(conversation_id, done.retry_at)
            if done.notice:
                send_now(services, conversation_id, deadline)
            _schedule_delivery(services, conversation_id, stop, done.waits_until)
    if held and lease.busy:
        # A message is left for a worker: its replies must not overtake these, so they go out now.
        _send_held(services, conversation_id, held, deadline)
        held = []
    return worked, lease.busy, held


def _record_and_next(
    services: Services,
    conversation_id: int,
    lease: Lease,
    done: Done,
    sent: sending.Sent | None,
    renew: bool,
) -> Lease:
    """Record the sends and go on: release the conversation (the message waits for a retry), take
    `done.next_lease`, or look at the next message; in one transaction. The returned lease carries the
    delivery that stopped the sends, if any."""
    owner = lease.owner
    try:
        with services.database.session() as session:
            stop = sending.record(session, sent) if sent is not None else None
            if done.next_lease is not None:
                following = done.next_lease
            elif done.retry_at is not None:
                # The message waits for its retry, and the ones after it wait behind it.
                leases.release(session, conversation_id, owner)
                following = Lease(owner, held=False)
            else:
                if renew:
                    leases.renew(session, conversation_id, owner, utcnow())
                following = claiming.next_lease(services, session, conversation_id, owner)
    except Exception:
        # Looking at the next message failed (a bug) and took the record of these sends with it:
        # record them on their own and let go; the next message stays pending for a retry.
        with services.database.session() as session:
            if sent is not None:
                sending.record(session, sent)
            leases.release(session, conversation_id, owner)
        raise
    following.stop = stop
    return following


def _send_held(
    services: Services, conversation_id: int, held: list[Outgoing], deadline: float | None
) -> None:
    """Send replies held for a TwiML response through the API after all, in order (a delivery job
    takes what the deadline leaves)."""
    if held:
        stop = sending.deliver(services.database, services.sender, held, deadline=deadline)
        _schedule_delivery(services, conversation_id, stop, None)


def send_now(services: Services, conversation_id: int, deadline: float | None = None) -> None:
    """Deliver the conversation's pending replies now (those `deadline` leaves time for); schedule a
    delivery job for what must wait."""
    with services.database.session() as session:
        claimed, waits_until = outgoing.claim_conversation(session, services.settings, conversation_id)
    stop = sending.deliver(services.database, services.sender, claimed, deadline=deadline)
    _schedule_delivery(services, conversation_id, stop, waits_until)


def _schedule_delivery(
    services: Services, conversation_id: int, stop: sending.Delivery | None, waits_until: datetime | None
) -> None:
    """Schedule a delivery job for replies that must wait: a retry (`stop`), a later reply waiting behind
    an older one, or one the deadline left (due at once)."""
    retry_at = stop.retry_at if stop is not None else waits_until
    if retry_at is not None:
        services.later.deliver(conversation_id, retry_at if retry_at > utcnow() else None)
