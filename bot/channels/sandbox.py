"""The sandbox channel: with no Twilio account, outbound messages are stored and shown, never sent."""

from __future__ import annotations

import uuid

from bot.channels.base import OutboundRequest, SendResult
from bot.models import MessageStatus

SANDBOX_SID_PREFIX = "SB"


class SandboxSender:
    """Accepts every message; `regua chat` and the /sandbox page show what would have gone out."""

    def send(self, request: OutboundRequest) -> SendResult:
        """Give the message a Twilio-shaped id and mark it stored."""
        return SendResult(sid=f"{SANDBOX_SID_PREFIX}{uuid.uuid4().hex}", status=MessageStatus.STORED)
