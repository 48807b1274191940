"""Issue 14 §1: Rasa and the action server bind to loopback, and every call to them carries a token.

The action-server tests run the real `python -m actions.server` (and, for the failure mode, rasa_sdk's own
unguarded runner, as `regua actions` started it before) and call it from a second process (curl).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot import health
from bot.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from bot.db import Database
from bot.logging_setup import configure_logging
from bot.models import Channel, Conversation
from bot.rasa import server
from bot.rasa.client import RasaClient, RasaUnavailable
from tests.conftest import PHONE, People
from tests.processes import RunningProcess, free_port, start_process
from tests.unit.conftest import FakePool
from tests.unit.test_production_config import PRODUCTION as COMPLETE_PRODUCTION

BOLETO_LINE = "23790001169211000121809044756170216290000015990"  # the `people` fixture's overdue invoice
PRODUCTION = {**COMPLETE_PRODUCTION, "REGUA_VAR_DIR": "/tmp/regua-internal-services-test"}


# ---- settings -----------------------------------------------------------------------------------------


def test_rasa_and_the_action_server_bind_to_loopback_with_tokens_derived_from_the_secret_key(
    tmp_path: Path,
) -> None:
    env = {"REGUA_VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 32}
    s = load_settings(env)
    assert s.rasa_host == s.action_server_host == "127.0.0.1"
    assert len(s.rasa_auth_token) == 64 and len(s.action_server_token) == 64
    assert s.rasa_auth_token != s.action_server_token != s.webhook_auth_token
    # Every process derives the same tokens from the same SECRET_KEY; another key, other tokens.
    assert load_settings(env).rasa_auth_token == s.rasa_auth_token
    assert load_settings({**env, "SECRET_KEY": "j" * 32}).rasa_auth_token != s.rasa_auth_token
    assert s.rasa_auth_token not in repr(s) and s.action_server_token not in repr(s)
    assert s.redacted()["rasa_auth_token"] == s.redacted()["action_server_token"] == "***"


@pytest.mark.parametrize("missing", ["RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN"])
def test_production_refuses_to_start_without_each_internal_token(missing: str) -> None:
    load_settings(PRODUCTION)  # complete: starts
    with pytest.raises(ConfigError, match=missing):
        load_settings({k: v for k, v in PRODUCTION.items() if k != missing})


@pytest.mark.parametrize(
    ("host_var", "token_var", "field"),
    [
        ("RASA_HOST", "RASA_AUTH_TOKEN", "rasa_host"),
        ("ACTION_SERVER_HOST", "ACTION_SERVER_TOKEN", "action_server_host"),
    ],
)
def test_binding_off_loopback_needs_an_explicitly_set_token(
    tmp_path: Path, host_var: str, token_var: str, field: str
) -> None:
    env = {"REGUA_VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 32, host_var: "10.0.0.5"}
    with pytest.raises(ConfigError, match=token_var):
        load_settings(env)
    s = load_settings({**env, token_var: "private-network-token-0123"})
    assert getattr(s, field) == "10.0.0.5"


@pytest.mark.parametrize(
    "env",
    [
        {"RASA_AUTH_TOKEN": "short"},
        {"ACTION_SERVER_TOKEN": "has a space in the middle"},
        {"RASA_HOST": "0.0.0.0 --debug"},
    ],
)
def test_bad_internal_service_settings_fail_naming_the_variable(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        load_settings({"REGUA_VAR_DIR": str(tmp_path), **env})


def test_the_internal_tokens_never_reach_the_logs(settings: Settings) -> None:
    configure_logging(settings)
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_regua", False)]
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "%s %s",
        (settings.rasa_auth_token, settings.action_server_token),
        None,
    )
    for log_filter in handler.filters:
        log_filter.filter(record)  # type: ignore[union-attr]
    assert record.getMessage() == "*** ***"


# ---- the Rasa server's command line, endpoints and credentials ----------------------------------------


def test_rasa_gets_its_auth_token_through_the_environment_not_the_command_line(
    settings: Settings, tmp_path: Path
) -> None:
    cmd = server.server_command(settings, tmp_path / "m.tar.gz", tmp_path / "e.yml", tmp_path / "c.yml")
    assert settings.rasa_auth_token not in " ".join(cmd)  # any local user can read a command line
    assert server.server_environment(settings)["RASA_AUTH_TOKEN"] == settings.rasa_auth_token
    assert cmd[cmd.index("--credentials") + 1] == str(tmp_path / "c.yml")


def test_rasa_binds_to_the_configured_private_address(tmp_path: Path) -> None:
    s = load_settings(
        {
            "REGUA_VAR_DIR": str(tmp_path),
            "RASA_HOST": "10.0.0.5",
            "RASA_AUTH_TOKEN": "private-token-0123456789",
        }
    )
    cmd = server.server_command(s, tmp_path / "m.tar.gz", tmp_path / "e.yml", tmp_path / "c.yml")
    assert cmd[cmd.index("--interface") + 1] == "10.0.0.5"


def test_rasa_calls_the_actions_with_their_token_and_guards_its_rest_channel(settings: Settings) -> None:
    endpoints = server.write_endpoints(settings)
    credentials = server.write_credentials(settings)
    assert json.loads(endpoints.read_text())["action_endpoint"]["token"] == settings.action_server_token
    assert json.loads(credentials.read_text()) == {
        "rasa_extensions.guarded_rest.GuardedRestInput": {"token": settings.rasa_auth_token}
    }
    for path in (endpoints, credentials):
        assert path.stat().st_mode & 0o077 == 0  # both hold a token


def test_rasa_refuses_to_start_its_api_without_an_auth_token() -> None:
    rasa_python = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
    if not rasa_python.exists():
        pytest.skip(
            "Rasa's environment (.venv-rasa) is not installed: make bootstrap installs it "
            "(make test-unit does not)"
        )
    env = {k: v for k, v in os.environ.items() if k != "RASA_AUTH_TOKEN"}
    done = subprocess.run(
        [str(rasa_python), "-m", "rasa_extensions.launch", "run", "--enable-api"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "RASA_AUTH_TOKEN is not set" in done.stderr


# ---- Régua's Rasa client --------------------------------------------------------------------------------


def test_the_rasa_client_sends_the_auth_token_on_every_call() -> None:
    pool = FakePool(body={"model_file": "m.tar.gz"})
    client = RasaClient("http://rasa:5005", 3.0, pool, token="tok/en+0123456789")  # type: ignore[arg-type]
    client.parse("oi")
    client.healthy()
    pool.body = []
    client.turn("42", "oi")
    urls = [r["url"] for r in pool.requests]
    assert urls == [
        "http://rasa:5005/model/parse?token=tok%2Fen%2B0123456789",
        "http://rasa:5005/status?token=tok%2Fen%2B0123456789",
        "http://rasa:5005/webhooks/rest/webhook?token=tok%2Fen%2B0123456789",
    ]


def test_a_refused_call_names_the_setting_but_never_the_token() -> None:
    pool = FakePool(status=401, body={"message": "User is not authenticated."})
    with pytest.raises(RasaUnavailable) as refused:
        RasaClient("http://rasa:5005", 3.0, pool, token="wrong-token-0123456789").parse("oi")  # type: ignore[arg-type]
    assert "RASA_AUTH_TOKEN" in str(refused.value) and "wrong-token" not in str(refused.value)


# ---- the action server, called by a second process ----------------------------------------------------


def _service_env(settings: Settings, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "ACTION_SERVER_"))}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        REGUA_ENV="test",
        REGUA_VAR_DIR=str(settings.var_dir),
        DATABASE_URL=settings.effective_database_url,
        REDIS_URL=settings.effective_redis_url,
        SECRET_KEY=settings.secret_key,
        IDENTITY_CHECK=settings.identity_check,  # the `people` debtor writes from their registered number
        ACTION_SERVER_PORT=str(port),
        SANIC_HOST="127.0.0.1",  # rasa_sdk's own runner (the unguarded one) would otherwise bind 0.0.0.0
    )
    return env


def _wait_for_health(running: RunningProcess, base: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert running.process.poll() is None, running.log_tail()
        try:
            if requests.get(f"{base}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"{running.name} did not start:\n{running.log_tail()}")


def action_call(conversation_id: int, action: str = "action_segunda_via") -> dict:
    """The body Rasa posts to the action server to run `action` for a conversation."""
    return {
        "next_action": action,
        "sender_id": str(conversation_id),
        "tracker": {
            "sender_id": str(conversation_id),
            "slots": {},
            "latest_message": {"intent": {"name": "segunda_via"}, "entities": [], "metadata": {}},
            "events": [],
        },
        "domain": {},
        "version": "3.6.21",
    }


def _curl_action(url: str, conversation_id: int, action: str = "action_segunda_via") -> tuple[int, str]:
    """POST an action call as Rasa would, from another process (curl); returns (status, body)."""
    call = action_call(conversation_id, action)
    done = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(call),
         "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


@pytest.fixture
def conversation_id(db: Database, people: People) -> int:
    with db.session() as s:
        conversation = Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        return conversation.id


@pytest.fixture
def action_server(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, RunningProcess]]:
    """`regua actions`' server (`python -m actions.server`) on a free port: (base URL, process)."""
    port = free_port()
    command = [sys.executable, "-m", "actions.server"]
    with start_process("actions", command, tmp_path / "logs", env=_service_env(settings, port)) as running:
        base = f"http://127.0.0.1:{port}"
        _wait_for_health(running, base)
        yield base, running


def test_a_caller_without_the_token_gets_nothing_from_the_action_server(
    action_server: tuple[str, RunningProcess], settings: Settings, conversation_id: int
) -> None:
    base, running = action_server
    for action in ("action_segunda_via", "action_contestar_divida", "action_parar"):
        status, body = _curl_action(f"{base}/webhook", conversation_id, action)
        assert status == 401 and body == '{"error":"unauthorized"}'
    status, body = _curl_action(f"{base}/webhook?token=not-the-token-0123456789", conversation_id)
    assert status == 401 and BOLETO_LINE not in body
    # With Rasa's token the same call works: the debtor's boleto line comes back.
    status, body = _curl_action(f"{base}/webhook?token={settings.action_server_token}", conversation_id)
    assert status == 200 and BOLETO_LINE in body
    # The refusal is logged with method, path and address only: no conversation id, no token, no body.
    log = running.log_file.read_text()
    assert "refused a call without a valid token: POST /webhook from 127.0.0.1" in log
    assert settings.action_server_token not in log and "not-the-token" not in log and BOLETO_LINE not in log


def test_the_action_server_listens_on_loopback_only(action_server: tuple[str, RunningProcess]) -> None:
    port = int(action_server[0].rsplit(":", 1)[1])
    addresses = health.local_addresses()
    if not addresses:
        pytest.skip("this machine has no address besides loopback")
    for address in addresses:
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((address, port)) != 0, f"reachable on {address}"
    assert health.check_bind("actions", "127.0.0.1", action_server[0]).ok


# ---- regua health --deep ------------------------------------------------------------------------------


def test_deep_health_accepts_the_guarded_action_server(action_server: tuple[str, RunningProcess]) -> None:
    assert health.check_refuses_without_token("POST", f"{action_server[0]}/webhook").ok


def test_an_action_server_refusing_regua_s_token_is_reported_down(
    action_server: tuple[str, RunningProcess], settings: Settings
) -> None:
    url = f"{action_server[0]}/webhook"
    assert health.check_action_server(url, token=settings.action_server_token).ok
    mismatched = health.check_action_server(url, token="another-token-0123456789")
    assert not mismatched.ok and "401" in mismatched.detail


def test_deep_health_fails_when_the_action_server_answers_without_a_token(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    # rasa_sdk's own runner, as `regua actions` started it before issue 14: no token check.
    command = [sys.executable, "-m", "rasa_sdk", "--actions", "actions.actions", "--port", str(port)]
    with start_process("rasa_sdk", command, tmp_path / "logs", env=_service_env(settings, port)) as running:
        _wait_for_health(running, f"http://127.0.0.1:{port}")
        result = health.check_refuses_without_token("POST", f"http://127.0.0.1:{port}/webhook")
    assert not result.ok and "without the token" in result.detail


def test_deep_health_fails_when_a_loopback_service_listens_on_every_interface() -> None:
    if not health.local_addresses():
        pytest.skip("this machine has no address besides loopback")
    with socket.socket() as listener:  # a service bound like rasa_sdk's default: 0.0.0.0
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = health.check_bind("actions", "127.0.0.1", f"http://127.0.0.1:{port}")
    assert not result.ok and "reachable off loopback" in result.detail


def test_deep_health_fails_when_a_token_is_not_refused_or_nothing_answers() -> None:
    assert not health.check_refuses_without_token("GET", f"http://127.0.0.1:{free_port()}/status").ok
