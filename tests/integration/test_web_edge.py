"""The real web app (gunicorn, as `regua web` runs it) at its edge: the Twilio webhooks stay fast while a
hundred callers poll the health checks and Rasa hangs, and the access log never shows a URL token.

No trained model needed: Rasa is a real fault here, a server that accepts connections and never answers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from bot.config import Settings, load_settings
from bot.conversation import chat
from bot.db import Database
from tests.faults import hung_server
from tests.integration.conftest import wait_for_http
from tests.processes import RunningProcess, free_port, start_process

pytestmark = pytest.mark.integration

CALLERS = 100
# Far inside Twilio's 15 s; what a webhook that queues behind health probes would blow through.
WEBHOOK_BOUND_SECONDS = 3.0


@dataclass
class Web:
    """The web app under test."""

    settings: Settings
    url: str
    process: RunningProcess


@pytest.fixture(scope="module")
def web(
    migrated_database: Database, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Web]:
    """`regua web` (gunicorn: 2 processes of 4 threads, the defaults) with Rasa hung."""
    with hung_server() as rasa_port:
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "HEALTH_"))}
        env.update(
            REGUA_ENV="test",
            REGUA_VAR_DIR=str(tmp_path_factory.mktemp("edge-var")),
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            WEB_PORT=str(port),
            WEB_CONCURRENCY="2",
            WEB_THREADS="4",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            RASA_URL=rasa_url,
            SECRET_KEY="edge-secret-key-0123456789",
        )
        log_dir = tmp_path_factory.mktemp("edge-logs")
        with start_process("web", [sys.executable, "-m", "bot.cli", "web"], log_dir, env=env) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(proc, f"{url}/health", timeout=60)
            yield Web(load_settings(env), url, proc)


def test_twilio_webhooks_answer_fast_while_a_hundred_callers_poll_health_and_rasa_hangs(web: Web) -> None:
    stop = threading.Event()

    def poll(caller: int) -> None:
        path = "/health/ready" if caller % 2 else "/health"
        while not stop.is_set():
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{web.url}{path}", timeout=30)
            stop.wait(0.05)

    latencies = []
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        for caller in range(CALLERS):
            pool.submit(poll, caller)
        try:
            time.sleep(2)  # the burst is on, and the first readiness probe is waiting on Rasa
            for _ in range(3):
                form = {"MessageSid": chat.new_sid(), "MessageStatus": "delivered"}
                started = time.monotonic()
                response = chat.post(web.settings, web.url, chat.STATUS_PATH, form, timeout=30)
                latencies.append(time.monotonic() - started)
                assert response.status_code == 200
        finally:
            stop.set()
    assert max(latencies) < WEBHOOK_BOUND_SECONDS, f"webhook latencies {latencies}\n{web.process.log_tail()}"


def test_the_real_access_log_never_shows_a_payment_or_image_token(web: Web) -> None:
    token = "Zr8pT2kQ-unguessable_payment_token"
    requests.get(f"{web.url}/p/{token}", headers={"Referer": f"{web.url}/p/{token}"}, timeout=10)
    requests.get(f"{web.url}/m/{token}.c2ln.png", timeout=10)
    deadline = time.monotonic() + 10
    log = ""
    while "/m/***" not in log and time.monotonic() < deadline:
        time.sleep(0.2)
        log = web.process.log_file.read_text()
    assert '"GET /p/*** HTTP/1.1" 404' in log and "/m/***" in log, web.process.log_tail()
    assert token not in log
