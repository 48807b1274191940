"""Twilio webhooks: inbound messages (`/webhooks/twilio/messages`) and delivery status (`.../status`).

Design (see docs/conversation.md): the message webhook checks the signature, saves the message and
answers the debtor inline, within a time budget: the replies go back in the response as TwiML
`<Message>`s (or, with TWILIO_INLINE_REPLIES=api and in sandbox mode, through the sender before an empty
response). Whatever must wait (Rasa down or slow, a backlog) is left pending and handed to the RQ
workers, so every webhook stays far inside Twilio's 15 seconds. One debtor's messages stay in order
whoever processes them (a conversation lease, bot.conversation.claiming). When the database fails, the
message is
spooled (bot.conversation.spool) and Twilio still gets a 200: Twilio does not retry message webhooks.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from bot.channels.twiml import reply_twiml
from bot.conversation import claiming, inbound, leases, loop
from bot.conversation.spool import Spool
from bot.delivery import delivery_status
from bot.delivery.outbound import Claimed
from bot.runtime import Services
from webhooks.errors import error_response
from webhooks.extensions import conversations, db, settings

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")

# Inline answering starts no new message, and sends no reply, after this long from the request's start;
# later messages of a burst and late replies go to the workers. The worst case is this budget plus one
# Rasa call (`INLINE_RASA_TIMEOUT_SECONDS`) or one Twilio send (5 s): far inside Twilio's 15 seconds.
INLINE_BUDGET_SECONDS = 1.0


def _twiml(replies: Claimed) -> Response:
    """The webhook's TwiML answer: the replies it carries, or an empty `<Response/>`."""
    return Response(reply_twiml(settings(), replies), mimetype="text/xml")


def _signed_url() -> str:
    """The URL Twilio signed: the public base URL (as Twilio sees us, behind any proxy) plus the path."""
    query = request.query_string.decode()
    return f"{settings().public_base_url}{request.path}" + (f"?{query}" if query else "")


@bp.before_request
def verify_signature() -> None:
    """Reject (403) any request without a valid X-Twilio-Signature, before reading anything else."""
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(settings().webhook_auth_token)
    if not signature or not validator.validate(_signed_url(), request.form, signature, algorithm):
        # Never log the body: it is the debtor's message.
        log.warning(
            "rejected %s %s: %s signature (from %s)",
            request.method,
            request.path,
            "wrong" if signature else "missing",
            request.remote_addr,
        )
        abort(403)


@bp.post("/messages")
def messages() -> Response | tuple[Response | str, int]:
    """Save an inbound WhatsApp/SMS message and hand it to the bot; spool it if the database fails."""
    received_at = time.time()
    deadline = time.monotonic() + INLINE_BUDGET_SECONDS
    try:
        message = inbound.parse_form(request.form)
    except inbound.AutomatedSender:
        log.info("ignored a message from a non-phone sender (short code or alphanumeric)")
        return _twiml([])
    except inbound.BadInbound as error:
        return error_response(400, "bad_request", f"Mensagem inválida: {error}.")

    allowed = conversations.limiter().allow(message.sender.canonical_e164)
    ignored = None if allowed else "rate_limited"
    services = conversations.services()
    spool = conversations.spool()
    # Messages spooled while the database was down go first (oldest first, within the budget); while
    # any still wait, this one queues behind them, so it never overtakes an older one
    # (bot.conversation.spool).
    if spool.pending():
        spool.replay(services.database, services.later, deadline)
        if spool.pending():
            return _spool(spool, received_at, ignored, "older messages are still spooled")
    try:
        replies = _store_and_answer(services, message, allowed, ignored, deadline)
    except SQLAlchemyError as error:
        # Twilio does not retry a failed message webhook: keep the message for the replay instead.
        return _spool(spool, received_at, ignored, f"the database is unavailable ({type(error).__name__})")
    return _twiml(replies)


def _spool(spool: Spool, received_at: float, ignored: str | None, why: str) -> Response:
    """Spool the request's form and answer Twilio 200 with an empty TwiML. No notice goes to the debtor:
    without the database Régua cannot check an opt-out, a human handoff or the reply-loop guard, nor
    record the reply; the answer comes when the message is replayed."""
    where = spool.append(request.form, received_at, ignored)
    log.warning("message spooled (%s): %s", where, why)  # never the form: it holds the message
    return _twiml([])


def _store_and_answer(
    services: Services, message: inbound.Inbound, allowed: bool, ignored: str | None, deadline: float
) -> Claimed:
    """Save the message, answer it within `deadline`, hand what waits to the workers; the replies to
    return as TwiML. A database failure raises `SQLAlchemyError` (nothing is answered then)."""
    database = services.database
    # One pooled connection for the whole request; the message is saved, the conversation claimed (in
    # the same UPDATE that records the message on it) and the message looked at in one transaction,
    # committed before Rasa is asked or anything is sent.
    owner = leases.new_owner() if allowed else None
    replies: Claimed = []
    with database.one_connection():
        try:
            with database.session() as session:
                if owner is None:
                    stored, lease = inbound.store(session, message, ignored=ignored), None
                else:
                    stored, lease = claiming.store_and_claim(services, session, message, owner)
        except SQLAlchemyError:
            raise  # the database itself failed: the caller spools the message
        except Exception:
            # Looking at the message failed (a bug): save it on its own, pending, for a worker to try
            # again; a message is never lost to an error in answering it.
            log.exception("message could not be looked at inline; saved for the workers")
            with database.session() as session:
                stored = inbound.store(session, message, ignored=ignored)
            lease = None
        if stored.duplicate:
            log.info("message %s already received; not answered again", stored.message_id)
        elif not allowed:
            log.warning(
                "message %s stored without answer: number over the inbound rate limit", stored.message_id
            )
        elif lease is None:
            services.later.process(stored.conversation_id)
        else:
            inline = loop.answer_inline(
                services, stored.conversation_id, deadline, lease, hold=settings().twiml_replies
            )
            replies = inline.replies
            if inline.left and claiming.has_ready_message(database, stored.conversation_id):
                # Left for later (Rasa down or slow, a backlog beyond the budget, a conversation another
                # process holds): the workers take it through RQ, or the sweep if Redis is down.
                services.later.process(stored.conversation_id)
    return replies


@bp.post("/status")
def status() -> Response:
    """Apply a delivery status callback (forward only). Unknown SIDs are logged and still answered 200.

    A reply handed over as TwiML has its row's id in the URL (`?reply=<id>`, see bot.channels.twiml):
    its first callback records the SID Twilio gave it."""
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    state = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    reply = request.args.get("reply", "")
    if not sid or not state or (reply and not reply.isdigit()):
        abort(400)
    session = db.session()
    found = delivery_status.apply(
        session, sid, state, request.form.get("ErrorCode"), reply_id=int(reply) if reply else None
    )
    session.commit()
    if not found:
        log.warning("status %r for unknown message SID %s", state, sid)
    return Response("", status=200)
