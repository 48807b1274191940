"""Replies in the webhook's own response: TwiML `<Message>`s instead of REST API calls.

Answered within the request, a turn's replies go back to Twilio in the response to its webhook, which
costs no API call per reply (each is a few hundred milliseconds against the real API, and counts against
the account's API concurrency). Each `<Message>` carries an `action` URL: Twilio posts that message's
status callbacks there, and the `reply` parameter names the row, so the first callback records the SID
Twilio gave it (`bot.delivery_status.apply`).
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.base import OutboundRequest
from bot.config import Settings

STATUS_PATH = "/webhooks/twilio/status"


def reply_callback_url(settings: Settings, message_id: int) -> str:
    """The status callback URL of the reply saved as `message_id`."""
    return f"{settings.public_base_url}{STATUS_PATH}?reply={message_id}"


def reply_twiml(settings: Settings, replies: list[tuple[int, OutboundRequest, int]]) -> str:
    """A `<Response>` with one `<Message>` per claimed reply (message id, request, attempts), in order.

    No `to`/`from`: Twilio answers the sender from the number it wrote to, which is the conversation's
    address and `our_address`."""
    response = MessagingResponse()
    for message_id, request, _ in replies:
        message = response.message(action=reply_callback_url(settings, message_id), method="POST")
        if request.body:
            message.body(request.body)
        for url in request.media_urls:
            message.media(url)
    return str(response)
