"""Talking to Régua as a debtor would, through the real webhook: `regua chat`, the integration tests and
the inbound benchmark all use this.

`send` builds the form Twilio would post for a WhatsApp or SMS message, signs it exactly as Twilio does
(X-Twilio-Signature over the public URL and the parameters, with the webhook token) and posts it to the
running web app. `replies_to` waits until the bot has answered that message and returns what it said.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.channels import twiml
from bot.config import Settings
from bot.db import Database
from bot.models import Direction, Message, MessageStatus, Processing
from bot.phones import Address

MESSAGES_PATH = "/webhooks/twilio/messages"
STATUS_PATH = twiml.STATUS_PATH
# Our side of a sandbox conversation when no Twilio sender is configured.
SANDBOX_OUR_NUMBER = "+5511999990000"


def new_sid(prefix: str = "SM") -> str:
    """A fresh Twilio-shaped message SID."""
    return f"{prefix}{uuid.uuid4().hex}"


def inbound_form(
    settings: Settings,
    address: Address,
    body: str,
    *,
    sid: str | None = None,
    media: list[tuple[str, str]] | None = None,
) -> dict[str, str]:
    """The parameters Twilio posts for an inbound message from `address`."""
    sid = sid or new_sid("MM" if media else "SM")
    ours = (settings.twilio_whatsapp_from if address.channel == "whatsapp" else settings.twilio_sms_from) or (
        SANDBOX_OUR_NUMBER
    )
    if address.channel == "whatsapp" and not ours.startswith("whatsapp:"):
        ours = f"whatsapp:{ours}"
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": settings.twilio_account_sid or "AC" + "0" * 32,
        "From": address.twilio,
        "To": ours,
        "Body": body,
        "NumMedia": str(len(media or [])),
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    for index, (url, content_type) in enumerate(media or []):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = content_type
    if address.channel == "whatsapp":
        form["WaId"] = address.e164.removeprefix("+")
        form["ProfileName"] = "Sandbox"
    return form


def signature(settings: Settings, path: str, form: dict[str, str]) -> str:
    """X-Twilio-Signature for posting `form` to `path` of this Régua (its public URL, as Twilio signs)."""
    return RequestValidator(settings.webhook_auth_token).compute_signature(
        f"{settings.public_base_url}{path}", form
    )


def post(
    settings: Settings,
    base_url: str,
    path: str,
    form: dict[str, str],
    *,
    signed: bool = True,
    session: requests.Session | None = None,
    timeout: float = 20.0,
) -> requests.Response:
    """POST `form` to the web app at `base_url` + `path`, signed like Twilio (unless `signed` is False)."""
    headers = {"X-Twilio-Signature": signature(settings, path, form)} if signed else {}
    return (session or requests).post(
        f"{base_url.rstrip('/')}{path}", data=form, headers=headers, timeout=timeout
    )


@dataclass(frozen=True)
class Exchange:
    """An inbound message and the replies the bot sent to it (so far)."""

    message_id: int | None
    processing: Processing | None
    replies: list[Message]

    @property
    def texts(self) -> list[str]:
        """The reply bodies, in order."""
        return [m.body for m in self.replies]


def replies_to(database: Database, sid: str, *, timeout: float = 20.0, interval: float = 0.1) -> Exchange:
    """Wait until the message with Twilio SID `sid` is handled and its replies handed to the channel
    (or `timeout` passes); return the replies."""
    deadline = time.monotonic() + timeout
    while True:
        exchange = _exchange(database, sid)
        settled = exchange.processing not in (None, Processing.PENDING) and not any(
            m.status in (MessageStatus.PENDING, MessageStatus.SENDING) for m in exchange.replies
        )
        if settled or time.monotonic() >= deadline:
            return exchange
        time.sleep(interval)


def _exchange(database: Database, sid: str) -> Exchange:
    with database.session() as session:
        message = session.scalar(select(Message).where(Message.provider_sid == sid))
        if message is None:
            return Exchange(None, None, [])
        replies = session.scalars(
            select(Message)
            .where(Message.in_reply_to_id == message.id, Message.direction == Direction.OUTBOUND)
            .order_by(Message.id)
        ).all()
        return Exchange(message.id, message.processing, list(replies))
