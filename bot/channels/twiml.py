"""Replies in the webhook's own response: TwiML `<Message>`s instead of REST API calls.

Answered within the request, a turn's replies go back to Twilio in the response to its webhook, which
costs no API call per reply (each is a few hundred milliseconds against the real API, and counts against
the account's API concurrency). Each `<Message>` carries an `action` URL: Twilio posts that message's
status callbacks there, and the `reply` parameter names the row, so the first callback records the SID
Twilio gave it (`bot.delivery.status.apply`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.base import OutboundRequest
from bot.config import Settings

STATUS_PATH = "/webhooks/twilio/status"


def status_callback_url(settings: Settings) -> str:
    """Where Twilio posts the status callbacks of the messages Régua sends through the API."""
    return f"{settings.public_base_url}{STATUS_PATH}"


def reply_callback_url(settings: Settings, message_id: int) -> str:
    """The status callback URL of the reply saved as `message_id` (handed over as TwiML)."""
    return f"{status_callback_url(settings)}?reply={message_id}"


def reply_twiml(settings: Settings, replies: Sequence[tuple[int, OutboundRequest]]) -> str:
    """A `<Response>` with one `<Message>` per claimed reply (message id, request), in order.

    No `to`/`from`: Twilio answers the sender from the number it wrote to, which is the conversation's
    address and `our_address`."""
    response = MessagingResponse()
    for message_id, request in replies:
        message = response.message(action=reply_callback_url(settings, message_id), method="POST")
        if request.body:
            message.body(request.body)
        for url in request.media_urls:
            message.media(url)
    return str(response)


@dataclass(frozen=True)
class TwimlReply:
    """One `<Message>` of a reply response, read back: the row id its callback URL names, the URL, the
    text and the media URLs."""

    reply_id: int
    action: str
    body: str
    media: list[str] = field(default_factory=list)


def read_reply_twiml(content: bytes | str) -> list[TwimlReply]:
    """The `<Message>`s of a `reply_twiml` response, in order (what Twilio reads; the benchmark and the
    tests play Twilio with it). Raises ValueError for a document that is not such a response."""
    root = ET.fromstring(content)
    if root.tag != "Response":
        raise ValueError(f"not a TwiML response: <{root.tag}>")
    replies = []
    for message in root.iter("Message"):
        action = message.attrib.get("action", "")
        reply = parse_qs(urlsplit(action).query).get("reply", [""])[0]
        if not reply.isdigit():
            raise ValueError(f"a <Message> without a reply callback: {action!r}")
        body = message.find("Body")
        text = (body.text if body is not None else message.text) or ""
        replies.append(TwimlReply(int(reply), action, text, [m.text or "" for m in message.iter("Media")]))
    return replies
