"""Outbound channels: how a saved outbound message reaches the debtor.

`make_sender(settings)` gives the Twilio REST sender when credentials are configured, and the sandbox
sender (store, don't send) otherwise. They raise `RetryableSendError`, `AmbiguousSendError` or
`PermanentSendError` so the delivery code (`bot.delivery`) can decide between retrying later, asking the
provider whether it has the message, and giving up.

- `base`: what every sender takes and gives back, and the three kinds of failure;
- `twilio_api`: Twilio's REST API (`messages.create`, look-ups), errors classified; `twilio_http`: its HTTP
  layer on urllib3;
- `twiml`: replies in the webhook's own response (TwiML `<Message>`s);
- `sandbox`: no Twilio account: messages stored and shown, never sent;
- `splitting`: long texts split into messages a phone shows well (SMS segments);
- `whatsapp_window`: WhatsApp's 24-hour customer-service window, one rule for every sender.
"""

from __future__ import annotations

from bot.channels.base import (
    AmbiguousSendError,
    OutboundRequest,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendResult,
)
from bot.config import Settings

__all__ = [
    "AmbiguousSendError",
    "OutboundRequest",
    "PermanentSendError",
    "RetryableSendError",
    "SendResult",
    "Sender",
    "make_sender",
]


def make_sender(settings: Settings) -> Sender:
    """The sender for these settings: Twilio, or the sandbox when no Twilio credentials are configured."""
    if settings.sandbox:
        from bot.channels.sandbox import SandboxSender

        return SandboxSender()
    from bot.channels.twilio_api import TwilioSender

    return TwilioSender(settings)
