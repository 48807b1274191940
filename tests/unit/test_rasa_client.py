"""The Rasa REST client, against a fake of urllib3's pool (no network)."""

from __future__ import annotations

import json

import pytest
import urllib3

from bot.rasa.client import BotMessage, RasaClient, RasaUnavailable
from tests.unit.conftest import FakePool


def test_a_turn_posts_to_the_rest_channel_and_reads_the_bot_messages() -> None:
    pool = FakePool(
        body=[
            {"text": "Olá!"},
            {"image": "https://x/pix.png"},
            {"text": "Escolha:", "buttons": [{"title": "Pix"}]},
        ]
    )
    client = RasaClient("http://rasa:5005/", 3.0, pool)  # type: ignore[arg-type]
    answer = client.turn("42", "oi", {"channel": "whatsapp"})
    (sent,) = pool.requests
    assert sent["method"] == "POST" and sent["url"] == "http://rasa:5005/webhooks/rest/webhook"
    assert json.loads(sent["body"]) == {"sender": "42", "message": "oi", "metadata": {"channel": "whatsapp"}}
    assert sent["headers"] == {"Content-Type": "application/json"} and sent["timeout"] == 3.0
    # The image joins the text before it (one WhatsApp message with media).
    assert answer.messages == [
        BotMessage(text="Olá!", image="https://x/pix.png"),
        BotMessage(text="Escolha:", buttons=["Pix"]),
    ]
    assert answer.prediction is None  # a Rasa channel that reports none


@pytest.mark.parametrize(
    "pool",
    [
        FakePool(error=urllib3.exceptions.NewConnectionError(None, "refused")),  # type: ignore[arg-type]
        FakePool(error=urllib3.exceptions.ReadTimeoutError(None, "/", "timed out")),  # type: ignore[arg-type]
        FakePool(status=500, body={"error": "boom"}),
        FakePool(body=b"<html>not json</html>"),
        FakePool(body={"not": "a list"}),
    ],
)
def test_rasa_down_slow_or_confused_is_unavailable(pool: FakePool) -> None:
    with pytest.raises(RasaUnavailable):
        RasaClient("http://rasa:5005", 3.0, pool).turn("42", "oi")  # type: ignore[arg-type]


def test_health_needs_a_loaded_model() -> None:
    assert RasaClient("http://rasa:5005", 10.0, FakePool(body={"model_file": "m.tar.gz"})).healthy()  # type: ignore[arg-type]
    assert not RasaClient("http://rasa:5005", 10.0, FakePool(body={"model_file": None})).healthy()  # type: ignore[arg-type]
    down = FakePool(error=urllib3.exceptions.NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    assert not RasaClient("http://rasa:5005", 10.0, down).healthy()  # type: ignore[arg-type]
    probe = FakePool(body={"model_file": "m.tar.gz"})
    RasaClient("http://rasa:5005", 10.0, probe).healthy()  # type: ignore[arg-type]
    assert probe.requests[0]["method"] == "GET" and probe.requests[0]["timeout"] == 2.0
