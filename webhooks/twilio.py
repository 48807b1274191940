"""Twilio webhooks: inbound messages (`/webhooks/twilio/messages`) and delivery status (`.../status`).

Design (see docs/conversation.md): the message webhook checks the signature, saves the message and
answers Twilio at once with empty TwiML; an RQ worker then answers the debtor through the REST API.
That keeps every webhook far inside Twilio's 15 seconds whatever Rasa does, lets any number of workers
share the load, and keeps one debtor's messages in order (bot.dialogue). When Redis is down the webhook
answers inline instead, within a time budget, so debtors are still answered.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, Response, abort, request
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from bot import delivery_status, dialogue, inbound, jobs
from webhooks.errors import error_response
from webhooks.extensions import conversations, db, redis_ext, settings

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")

# Inline answering (Redis down) starts no new message after this long: Rasa's timeout plus a send must
# still fit in Twilio's 15 seconds.
INLINE_BUDGET_SECONDS = 1.0


def _empty_twiml() -> Response:
    return Response(str(MessagingResponse()), mimetype="text/xml")


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
    """Save an inbound WhatsApp/SMS message and hand it to the bot."""
    try:
        message = inbound.parse_form(request.form)
    except inbound.AutomatedSender:
        log.info("ignored a message from a non-phone sender (short code or alphanumeric)")
        return _empty_twiml()
    except inbound.BadInbound as error:
        return error_response(400, "bad_request", f"Mensagem inválida: {error}.")

    allowed = conversations.limiter().allow(message.sender.canonical_e164)
    session = db.session()
    stored = inbound.store(session, message, ignored=None if allowed else "rate_limited")
    session.commit()
    if stored.duplicate:
        log.info("message %s already received; not answered again", stored.message_id)
    elif not allowed:
        log.warning("message %s stored without answer: number over the inbound rate limit", stored.message_id)
    else:
        _dispatch(stored.conversation_id)
    return _empty_twiml()


def _dispatch(conversation_id: int) -> None:
    """Queue the conversation for a worker; answer inline when Redis is down."""
    started = time.monotonic()
    try:
        jobs.queue(redis_ext.client()).enqueue(
            jobs.process_conversation,
            conversation_id,
            job_timeout=jobs.JOB_TIMEOUT,
            result_ttl=jobs.RESULT_TTL,
            failure_ttl=86400,
        )
    except (redis.RedisError, OSError) as error:
        log.warning(
            "Redis unavailable (%s): answering conversation %s inline", type(error).__name__, conversation_id
        )
        dialogue.process_conversation(
            conversations.services(), conversation_id, deadline=started + INLINE_BUDGET_SECONDS
        )


@bp.post("/status")
def status() -> Response:
    """Apply a delivery status callback (forward only). Unknown SIDs are logged and still answered 200."""
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    state = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    if not sid or not state:
        abort(400)
    session = db.session()
    found = delivery_status.apply(session, sid, state, request.form.get("ErrorCode"))
    session.commit()
    if not found:
        log.warning("status %r for unknown message SID %s", state, sid)
    return Response("", status=200)
