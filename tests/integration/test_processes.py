"""`regua up` (the end of `make run`) brings every Procfile process (both Rasa slots too) up healthy and
stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import health, redis_client
from bot.config import PROJECT_ROOT, load_settings
from bot.db import Database

pytestmark = pytest.mark.integration

STARTUP_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_regua_up_runs_every_process_healthy_and_stops_cleanly(
    migrated_database: Database, database_url: str, tmp_path: Path, rasa_model: Path
) -> None:
    env = {
        **os.environ,
        "REGUA_ENV": "test",
        "REGUA_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "WEB_PORT": str(_free_port()),
        "RASA_PORT": str(_free_port()),
        "ACTION_SERVER_PORT": str(_free_port()),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("RASA_URL", None)
    env.pop("ACTION_SERVER_URL", None)
    settings = load_settings(env)
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        conn = redis_client.connect(settings)
        deadline = time.monotonic() + STARTUP_SECONDS
        results: dict[str, health.CheckResult] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            results = health.process_checks(settings, conn)
            if all(r.ok for r in results.values()):
                break
            time.sleep(2)
        log_tail = log_path.read_text()[-3000:]
        assert results and all(r.ok for r in results.values()), f"not healthy: {results}\n{log_tail}"
        # The banner with the URLs is printed once everything is healthy.
        for _ in range(20):
            if "Régua está no ar." in log_path.read_text():
                break
            time.sleep(0.5)
        assert "Régua está no ar." in log_path.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    ports = (settings.web_port, settings.rasa_port, settings.action_server_port)
    assert not any(_port_open(p) for p in ports), "a process outlived `regua up`"
