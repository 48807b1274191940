"""Outbound channels: how a saved outbound message reaches the debtor.

`make_sender(settings)` gives the Twilio REST sender when credentials are configured, and the sandbox
sender (store, don't send) otherwise. They raise `RetryableSendError`, `AmbiguousSendError` or
`PermanentSendError` so the delivery code (bot.delivery.sending) can decide between retrying later, asking
the provider whether it has the message, and giving up.
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
