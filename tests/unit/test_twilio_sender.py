"""Sending through Twilio's REST API, against a fake of Twilio's HTTP layer (no network)."""

from __future__ import annotations

import json
import logging
from base64 import b64encode
from urllib.parse import parse_qs

import pytest
import urllib3
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channels import (
    AmbiguousSendError,
    OutboundRequest,
    PermanentSendError,
    RetryableSendError,
    SendResult,
)
from bot.channels.twilio_api import TwilioSender
from bot.channels.twilio_http import Urllib3HttpClient
from bot.config import Settings, override
from bot.models import Channel, MessageStatus
from tests.unit.conftest import FakePool

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
        (500, None, AmbiguousSendError),  # Twilio may have created it before failing
        (503, 20503, AmbiguousSendError),
        (400, 21211, PermanentSendError),
        (400, 21610, PermanentSendError),
        (400, 63014, PermanentSendError),
    ],
)
def test_only_429_is_retried_a_5xx_is_ambiguous_and_other_refusals_are_permanent(
    twilio_settings: Settings, status: int, code: int | None, error: type
) -> None:
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


def _urllib3_sender(settings: Settings, pool: FakePool, base_url: str | None = None) -> TwilioSender:
    http = Urllib3HttpClient(5.0, base_url)
    http._managers[None] = pool  # type: ignore[assignment]  # no proxy configured in the tests
    return TwilioSender(settings, Client(SID, "secret-token-123", http_client=http))


def test_the_urllib3_client_sends_twilios_form_to_the_stand_in(
    twilio_settings: Settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    pool = FakePool(body=json.dumps({"sid": "SM" + "c" * 32, "status": "queued"}).encode())
    sender = _urllib3_sender(twilio_settings, pool, "http://127.0.0.1:4010/")
    result = sender.send(
        OutboundRequest(
            channel=Channel.WHATSAPP,
            to="+5511987654321",
            body="Seu boleto",
            media_urls=["https://x/pix.png", "https://x/barcode.png"],
            status_callback="https://regua.example/webhooks/twilio/status",
        )
    )
    assert result == SendResult(sid="SM" + "c" * 32, status=MessageStatus.QUEUED)
    (sent,) = pool.requests
    assert sent["method"] == "POST"
    assert sent["url"] == f"http://127.0.0.1:4010/2010-04-01/Accounts/{SID}/Messages.json"
    assert (
        sent["headers"]["Authorization"] == "Basic " + b64encode(f"{SID}:secret-token-123".encode()).decode()
    )
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(sent["body"])
    assert form["To"] == ["whatsapp:+5511987654321"] and form["Body"] == ["Seu boleto"]
    assert form["MediaUrl"] == ["https://x/pix.png", "https://x/barcode.png"]  # repeated keys, in order
    assert sent["timeout"] == 5.0 and sent["redirect"] is False


@pytest.mark.parametrize(
    ("pool", "error"),
    [
        (FakePool(error=urllib3.exceptions.NewConnectionError(None, "refused")), RetryableSendError),  # type: ignore[arg-type]
        (
            FakePool(error=urllib3.exceptions.ConnectTimeoutError(None, "connect timed out")),
            RetryableSendError,
        ),  # type: ignore[arg-type]
        # The request went out: Twilio may have created the message, so these are settled by lookup.
        (FakePool(error=urllib3.exceptions.ReadTimeoutError(None, "/", "timed out")), AmbiguousSendError),  # type: ignore[arg-type]
        (
            FakePool(error=urllib3.exceptions.ProtocolError("Connection aborted", ConnectionResetError())),
            AmbiguousSendError,
        ),  # type: ignore[arg-type]
        (FakePool(status=503, body=b'{"code": 20503, "message": "down"}'), AmbiguousSendError),
        (FakePool(status=400, body=b'{"code": 21211, "message": "invalid To"}'), PermanentSendError),
    ],
)
def test_only_a_failed_connection_is_retried_and_a_timeout_or_reset_after_sending_is_ambiguous(
    twilio_settings: Settings, pool: FakePool, error: type
) -> None:
    with pytest.raises(error):
        _urllib3_sender(twilio_settings, pool).send(
            OutboundRequest(channel=Channel.SMS, to="+5511987654321", body="x")
        )


def test_the_urllib3_client_uses_the_environments_proxy_unless_no_proxy_says_not(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    client = Urllib3HttpClient(5.0)
    through_proxy = client._manager("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json")
    assert isinstance(through_proxy, urllib3.ProxyManager)
    assert through_proxy.proxy is not None and through_proxy.proxy.host == "proxy.internal"
    direct = client._manager("https://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json")
    assert not isinstance(direct, urllib3.ProxyManager)
