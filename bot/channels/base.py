"""What every outbound channel takes and gives back, and the three kinds of failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.models import Channel, MessageStatus


@dataclass(frozen=True)
class OutboundRequest:
    """One message to hand to a provider."""

    channel: Channel
    to: str  # E.164, as the debtor's provider knows it
    body: str
    media_urls: list[str] = field(default_factory=list)
    from_: str | None = None  # our number (E.164) or Messaging Service SID; None = the configured one
    status_callback: str | None = None
    # An approved WhatsApp template instead of free text (required outside the 24-hour window).
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


@dataclass(frozen=True)
class SendResult:
    """What the provider said: its id for the message and the status it is in."""

    sid: str
    status: MessageStatus


class SendError(Exception):
    """The provider did not take the message. `code` is the provider's error code, when it gave one."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class RetryableSendError(SendError):
    """The provider surely did not take the message (rate limit 429, no connection made): try again later."""


class AmbiguousSendError(SendError):
    """The provider may have created the message (a timeout after the request went out, a 5xx, a connection
    reset mid-answer). Sending again could send it twice: the message stays `sending` without a SID and is
    settled by asking the provider (`lookup`)."""


class PermanentSendError(SendError):
    """The message can never be sent as it is (invalid number, unsubscribed, blocked...)."""


class Sender(Protocol):
    """Hands messages to a provider."""

    def send(self, request: OutboundRequest) -> SendResult:
        """Send one message; raise `RetryableSendError`, `AmbiguousSendError` or `PermanentSendError`."""
        ...
