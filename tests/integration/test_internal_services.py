"""Issue 14 §1, end to end: a second process that reaches Rasa's or the action server's port without the
token gets nothing from the real servers the stack runs (`regua rasa-server`, `regua actions`); with the
token the same calls work."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot import health
from bot.db import Database
from bot.models import Channel, Conversation
from tests.integration.conftest import LINE, Stack, new_debtor
from tests.unit.test_internal_services import action_call

pytestmark = pytest.mark.integration


def _curl(method: str, url: str, payload: dict | None = None) -> tuple[int, str]:
    """Call `url` from another process (curl), as an attacker on the network would; (status, body)."""
    command = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}", url]
    if payload is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(payload)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def _conversation(db: Database) -> int:
    debtor_id, phone = new_debtor(db)
    with db.session() as s:
        conversation = Conversation(channel=Channel.WHATSAPP, address=phone, debtor_id=debtor_id)
        s.add(conversation)
        s.flush()
        return conversation.id


def test_the_action_server_refuses_a_segunda_via_call_without_the_token(stack: Stack) -> None:
    conversation_id = _conversation(stack.database)
    url = stack.settings.action_server_url
    status, body = _curl("POST", url, action_call(conversation_id))
    assert status == 401 and LINE not in body and "R$" not in body
    status, body = _curl(
        "POST", f"{url}?token={stack.settings.action_server_token}", action_call(conversation_id)
    )
    assert status == 200 and LINE in body


def test_rasa_refuses_its_api_and_rest_channel_without_the_token(stack: Stack) -> None:
    rasa = stack.settings.rasa_url
    conversation_id = _conversation(stack.database)
    turn = {"sender": str(conversation_id), "message": "/segunda_via"}
    status, body = _curl("POST", f"{rasa}/webhooks/rest/webhook", turn)
    assert status == 401 and LINE not in body
    assert _curl("GET", f"{rasa}/status")[0] == 401
    assert _curl("POST", f"{rasa}/model/parse", {"text": "kd o boleto"})[0] == 401
    token = stack.settings.rasa_auth_token
    # With the token: the API answers, and the same turn reaches the action with the action server token.
    status, body = _curl("POST", f"{rasa}/model/parse?token={token}", {"text": "kd o boleto"})
    assert status == 200 and json.loads(body)["intent"]["name"]
    status, body = _curl("POST", f"{rasa}/webhooks/rest/webhook?token={token}", turn)
    assert status == 200 and LINE in body


def test_deep_health_finds_both_services_guarded_and_on_loopback(stack: Stack) -> None:
    results = health.internal_service_checks(stack.settings)
    assert all(r.ok for r in results.values()), results
