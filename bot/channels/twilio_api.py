"""Sending through Twilio's Programmable Messaging REST API (`messages.create`), errors classified.

Retryable (surely not created): HTTP 429 and connect errors. Ambiguous (Twilio may have created it): a 5xx,
a read timeout or a connection reset after the request went out — never resent blindly, settled by
`lookup`. Everything else Twilio refuses (21211 invalid number, 21610 unsubscribed, 63014 blocked, ...) is
permanent for that message.
`TWILIO_API_BASE_URL` points the client at a local stand-in (tests, benchmarks) instead of api.twilio.com.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Container
from datetime import datetime

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bot.channels.base import (
    AmbiguousSendError,
    OutboundRequest,
    PermanentSendError,
    RetryableSendError,
    SendResult,
)
from bot.channels.twilio_http import TwilioConnectError, Urllib3HttpClient
from bot.config import Settings
from bot.models import Channel, MessageStatus

log = logging.getLogger(__name__)

# A send must fit inside a webhook's time budget when it runs inline; the worker retries anything slower.
REQUEST_TIMEOUT_SECONDS = 5.0
# Twilio codes that mean "try again later" (nothing was created) when the HTTP status is not a 5xx.
RETRYABLE_CODES = frozenset({20429, 30001})


def make_client(settings: Settings) -> Client:
    """A Twilio REST client for the configured account (sending to `TWILIO_API_BASE_URL` if set)."""
    http_client = Urllib3HttpClient(REQUEST_TIMEOUT_SECONDS, settings.twilio_api_base_url)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


def _status(value: str | None) -> MessageStatus:
    try:
        return MessageStatus(value or "queued")
    except ValueError:
        return MessageStatus.QUEUED


class TwilioSender:
    """Sends with `client.messages.create`, from the configured WhatsApp or SMS sender."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)

    def _from(self, request: OutboundRequest) -> dict[str, str]:
        configured = (
            self.settings.twilio_whatsapp_from
            if request.channel == Channel.WHATSAPP
            else self.settings.twilio_sms_from
        )
        sender = request.from_ or configured
        if not sender:
            raise PermanentSendError(f"no Twilio sender configured for {request.channel}")
        if sender.startswith("MG"):
            return {"messaging_service_sid": sender}
        if request.channel == Channel.WHATSAPP and not sender.startswith("whatsapp:"):
            sender = f"whatsapp:{sender}"
        return {"from_": sender}

    def send(self, request: OutboundRequest) -> SendResult:
        """Create the message at Twilio; classify any failure as retryable, ambiguous or permanent."""
        to = f"whatsapp:{request.to}" if request.channel == Channel.WHATSAPP else request.to
        kwargs: dict[str, object] = {"to": to, **self._from(request)}
        if request.content_sid:
            kwargs["content_sid"] = request.content_sid
            kwargs["content_variables"] = json.dumps(request.content_variables or {}, ensure_ascii=False)
        else:
            kwargs["body"] = request.body
        if request.media_urls:
            kwargs["media_url"] = list(request.media_urls)
        if request.status_callback:
            kwargs["status_callback"] = request.status_callback
        try:
            created = self.client.messages.create(**kwargs)  # type: ignore[arg-type]
        except TwilioRestException as error:
            detail = f"Twilio {error.status}, code {error.code}"
            if error.status >= 500:  # Twilio may have created it before failing
                raise AmbiguousSendError(detail, code=error.code, status=error.status) from None
            if error.status == 429 or error.code in RETRYABLE_CODES:
                raise RetryableSendError(detail, code=error.code, status=error.status) from None
            raise PermanentSendError(detail, code=error.code, status=error.status) from None
        except (TwilioConnectError, requests.ConnectTimeout) as error:
            raise RetryableSendError(f"Twilio unreachable: {type(error).__name__}") from None
        except (requests.RequestException, TwilioException) as error:
            # The request may have gone out: only a lookup can tell whether Twilio has the message.
            raise AmbiguousSendError(f"Twilio did not answer: {type(error).__name__}") from None
        return SendResult(sid=str(created.sid), status=_status(created.status))

    def lookup(
        self, request: OutboundRequest, since: datetime, exclude: Container[str] = frozenset()
    ) -> SendResult | None:
        """The message Twilio already has for `request` (created since `since`), if any; a message whose
        SID is in `exclude` (already recorded on another row) never matches.

        Used after a dispatcher died while Twilio was answering: before sending again, ask. A free-text
        message matches on its body; a template message on carrying every variable value. `exclude` is
        asked only about a candidate that matches (it may query the database)."""
        to = f"whatsapp:{request.to}" if request.channel == Channel.WHATSAPP else request.to
        try:
            recent = self.client.messages.list(to=to, limit=50)
        except (TwilioRestException, requests.RequestException, TwilioException) as error:
            raise RetryableSendError(f"Twilio lookup failed: {type(error).__name__}") from None
        for message in recent:
            created = message.date_created
            if created is not None and created < since:
                continue
            body = message.body or ""
            if request.content_sid:
                matches = all(value in body for value in (request.content_variables or {}).values())
            else:
                matches = body == request.body
            if matches and str(message.sid) not in exclude:
                return SendResult(sid=str(message.sid), status=_status(message.status))
        return None
