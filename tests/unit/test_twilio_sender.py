"""Sending through Twilio's REST API, against a fake of Twilio's HTTP layer (no network)."""

from __future__ import annotations

import json
import logging

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channels import OutboundRequest, PermanentSendError, RetryableSendError
from bot.channels.twilio_api import TwilioSender, _RedirectingHttpClient
from bot.config import Settings, override
from bot.models import Channel, MessageStatus

SID = "AC" + "1" * 32


class FakeTwilioHttp(HttpClient):
    """Answers `messages.create` with a canned status and body; records the requests."""

    def __init__(self, status: int = 201, body: dict | None = None) -> None:
        super().__init__(logging.getLogger("fake-twilio"), False)
        self.status = status
        self.body = body or {"sid": "SM" + "a" * 32, "status": "queued"}
        self.requests: list[tuple[str, str, dict]] = []

    def request(
        self,
        method,
        url,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):  # type: ignore[no-untyped-def, override]
        self.requests.append((method, url, dict(data or {})))
        return Response(self.status, json.dumps(self.body))


@pytest.fixture
def twilio_settings(settings: Settings) -> Settings:
    return override(
        settings,
        twilio_account_sid=SID,
        twilio_auth_token="secret-token-123",
        twilio_whatsapp_from="whatsapp:+5511999990000",
        twilio_sms_from="MG" + "b" * 32,
    )


def _sender(settings: Settings, http: FakeTwilioHttp) -> TwilioSender:
    return TwilioSender(settings, Client(SID, "secret-token-123", http_client=http))


def test_whatsapp_message_is_created_with_media_and_status_callback(twilio_settings: Settings) -> None:
    http = FakeTwilioHttp()
    request = OutboundRequest(
        channel=Channel.WHATSAPP,
        to="+5511987654321",
        body="Olá!",
        media_urls=["https://regua.example/qr.png"],
        status_callback="https://regua.example/webhooks/twilio/status",
    )
    result = _sender(twilio_settings, http).send(request)
    assert result.sid.startswith("SM") and result.status == MessageStatus.QUEUED
    method, url, data = http.requests[0]
    assert method == "POST" and url.endswith(f"/2010-04-01/Accounts/{SID}/Messages.json")
    assert data["To"] == "whatsapp:+5511987654321" and data["From"] == "whatsapp:+5511999990000"
    assert data["MediaUrl"] == ["https://regua.example/qr.png"]
    assert data["StatusCallback"] == "https://regua.example/webhooks/twilio/status"


def test_sms_goes_through_the_messaging_service_or_the_conversation_number(twilio_settings: Settings) -> None:
    http = FakeTwilioHttp()
    sender = _sender(twilio_settings, http)
    sender.send(OutboundRequest(channel=Channel.SMS, to="+5511987654321", body="Oi"))
    assert http.requests[-1][2]["MessagingServiceSid"].startswith("MG")
    sender.send(OutboundRequest(channel=Channel.SMS, to="+5511987654321", body="Oi", from_="+5511988887777"))
    assert http.requests[-1][2]["From"] == "+5511988887777"


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (429, 20429, RetryableSendError),
        (500, None, RetryableSendError),
        (503, 20503, RetryableSendError),
        (400, 21211, PermanentSendError),
        (400, 21610, PermanentSendError),
        (400, 63014, PermanentSendError),
    ],
)
def test_errors_are_classified(twilio_settings: Settings, status: int, code: int | None, error: type) -> None:
    http = FakeTwilioHttp(status, {"code": code, "message": "nope", "status": status})
    with pytest.raises(error) as raised:
        _sender(twilio_settings, http).send(
            OutboundRequest(channel=Channel.SMS, to="+5511987654321", body="x")
        )
    assert raised.value.code == code and raised.value.status == status


def test_no_sender_configured_is_permanent(settings: Settings) -> None:
    bare = override(settings, twilio_account_sid=SID, twilio_auth_token="secret-token-123")
    with pytest.raises(PermanentSendError):
        _sender(bare, FakeTwilioHttp()).send(
            OutboundRequest(channel=Channel.SMS, to="+5511987654321", body="x")
        )


def test_base_url_override_redirects_to_a_local_stand_in(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    monkeypatch.setattr(
        "twilio.http.http_client.TwilioHttpClient.request",
        lambda self, method, url, *a, **k: seen.append(url),
    )
    client = _RedirectingHttpClient("http://127.0.0.1:4010/")
    client.request("POST", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
    assert seen == ["http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json"]
