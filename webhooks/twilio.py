"""Twilio webhooks: inbound messages (`/webhooks/twilio/messages`) and delivery status (`.../status`).

Each view checks, parses, makes one call into the engine and renders the answer. The message webhook
checks the signature and parses the form; `bot.conversation.receive` saves the message and answers the
debtor inline, within a time budget (see docs/conversation.md); the replies go back in the
response as TwiML `<Message>`s (or, with TWILIO_INLINE_REPLIES=api and in sandbox mode, through the
sender before an empty response). Twilio always gets a 200 for a well-formed message: when the database
fails the engine spools it, as Twilio does not retry message webhooks.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from bot.channels.twiml import reply_twiml
from bot.conversation import inbound
from bot.conversation.receive import receive
from bot.delivery import status as delivery_status
from bot.delivery.outgoing import Outgoing
from webhooks.errors import error_response
from webhooks.extensions import conversations, db, settings

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")


def _twiml(replies: list[Outgoing]) -> Response:
    """The webhook's TwiML answer: the replies it carries, or an empty `<Response/>`."""
    carried = [(reply.message_id, reply.request) for reply in replies]
    return Response(reply_twiml(settings(), carried), mimetype="text/xml")


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
    """Check (the signature, before the request), parse the form, hand the message to the engine
    (bot.conversation.receive), render its answer as TwiML."""
    try:
        message = inbound.parse_form(request.form)
    except inbound.AutomatedSender:
        log.info("ignored a message from a non-phone sender (short code or alphanumeric)")
        return _twiml([])
    except inbound.BadInbound as error:
        return error_response(400, "bad_request", f"Mensagem inválida: {error}.")
    received = receive(
        conversations.services(),
        message,
        request.form,
        limiter=conversations.limiter(),
        spool=conversations.spool(),
        hold=settings().twiml_replies,
    )
    return _twiml(received.replies)


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
