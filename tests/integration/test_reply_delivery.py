"""A bot reply Twilio created but answered late or with a 5xx goes out exactly once, across two processes.

The web app (Twilio mode, replies through the REST API of a local stand-in) answers a message; the
stand-in creates the reply and then answers late (past the client's timeout) or with a 500, so the web
app cannot tell whether Twilio has it: the reply stays `sending` without a SID, never resent blindly. A
second process, the minute sweep run later, asks the stand-in (look-up) and records the SID it finds.
The reply is the confirmation of an opt-out keyword (no NLU involved), which is saved, claimed, sent and
recorded through the same delivery path as every reply (bot.delivery).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.conversation import chat
from bot.models import Direction, Message, MessageStatus
from bot.phones import Address
from tests import twilio_standin
from tests.integration.conftest import Stack, _separate_redis_db, new_mobile, wait_for_http
from tests.processes import free_port, start_process
from tests.twilio_standin import StandIn

pytestmark = pytest.mark.integration

# The sweep, run as its own process once the reply has been `sending` for longer than STUCK_SENDING.
SWEEP = """
import datetime, sys, time_machine
with time_machine.travel(datetime.datetime.fromisoformat(sys.argv[1]), tick=True):
    from bot import runtime
    from bot.conversation import sweep
    print(sweep.sweep_once(runtime.services()), flush=True)
"""


@dataclass
class ApiWeb:
    """A web app in Twilio mode that sends its replies through the API, and the stand-in it sends to."""

    settings: Settings
    env: dict[str, str]
    url: str
    standin: StandIn


@pytest.fixture(scope="module")
def api_web(stack: Stack, tmp_path_factory) -> Iterator[ApiWeb]:  # type: ignore[no-untyped-def]
    with twilio_standin.running() as standin:
        port = free_port()
        env = {
            **stack.env,
            "WEB_PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": "AC" + "8" * 32,
            "TWILIO_AUTH_TOKEN": "integration-twilio-token-4567",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+5511999990000",
            "TWILIO_SMS_FROM": "+5511999990000",
            "TWILIO_API_BASE_URL": standin.url,
            "TWILIO_INLINE_REPLIES": "api",
            # A Redis database no worker reads: only the web app and the sweep below touch the reply.
            "REDIS_URL": _separate_redis_db(stack.env["REDIS_URL"], 13),
        }
        log_dir = tmp_path_factory.mktemp("api-web-logs")
        with start_process("api-web", [sys.executable, "-m", "bot.cli", "web"], log_dir, env=env) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(proc, f"{url}/health/ready", timeout=60)
            yield ApiWeb(load_settings(env), env, url, standin)


def _reply(stack: Stack, form: dict[str, str]) -> Message:
    with stack.database.session() as s:
        inbound = s.scalar(select(Message).where(Message.provider_sid == form["MessageSid"]))
        assert inbound is not None
        (reply,) = s.scalars(
            select(Message).where(
                Message.conversation_id == inbound.conversation_id, Message.direction == Direction.OUTBOUND
            )
        ).all()
        return reply


def _sweep(web: ApiWeb, at: datetime, log: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SWEEP, at.isoformat()],
        cwd=PROJECT_ROOT, env=web.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("fault", ["late", 500], ids=["answered-late", "5xx"])
def test_a_reply_twilio_created_but_answered_late_or_with_a_5xx_is_settled_by_lookup_and_sent_once(
    stack: Stack, api_web: ApiWeb, tmp_path: Path, fault: str | int
) -> None:
    standin, phone = api_web.standin, new_mobile()
    standin.after_create, standin.late_seconds = [fault], 6.0  # the client gives up after 5 s
    form = chat.inbound_form(api_web.settings, Address("whatsapp", phone), "PARAR")
    response = chat.post(api_web.settings, api_web.url, chat.MESSAGES_PATH, form, timeout=30)
    assert response.status_code == 200, response.text
    assert not standin.after_create, "the fault was not hit"

    reply = _reply(stack, form)
    assert (reply.status, reply.provider_sid) == (MessageStatus.SENDING, None)  # not resent blindly
    assert len(standin.to(phone)) == 1

    found = _sweep(api_web, datetime.now(UTC) + timedelta(minutes=6), tmp_path / "sweep.log")
    assert ast.literal_eval(found.strip().splitlines()[-1])["stuck_sends"] >= 1

    (copy,) = standin.to(phone)  # exactly one message reached Twilio
    reply = _reply(stack, form)
    assert reply.provider_sid == copy["sid"]
    assert reply.status == MessageStatus.QUEUED
    assert copy["body"] == reply.body
