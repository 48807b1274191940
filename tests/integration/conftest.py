"""Fixtures for integration tests: real processes (Rasa server; later the action server and web app).

`start_process()` + `wait_for_http()` are the general helpers: start a command in its own process group
with its output in a log file, poll a URL until a check passes, and stop it cleanly (SIGTERM, then SIGKILL)
afterwards. Failures show the end of the process's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot import nlu
from bot.config import PROJECT_ROOT

RASA_START_TIMEOUT = 180.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningProcess:
    """A subprocess started by `start_process`, with the log file its output goes to."""

    name: str
    process: subprocess.Popen
    log_file: Path

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the process's output."""
        return nlu.tail(self.log_file, lines)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not exited within `timeout` seconds."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


@contextlib.contextmanager
def start_process(
    name: str, command: Sequence[str], log_dir: Path, *, env: dict[str, str] | None = None
) -> Iterator[RunningProcess]:
    """Run `command` in the project root while the `with` block lasts; output to `<log_dir>/<name>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}.log"
    with log_file.open("w") as out:
        process = subprocess.Popen(
            list(command),
            cwd=PROJECT_ROOT,
            env=env if env is not None else dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so stop() also reaches its children
        )
    running = RunningProcess(name, process, log_file)
    try:
        yield running
    finally:
        running.stop()


def wait_for_http(
    running: RunningProcess,
    url: str,
    *,
    timeout: float,
    ready: Callable[[requests.Response], bool] = lambda response: response.ok,
    interval: float = 1.0,
) -> None:
    """Poll `url` until `ready(response)` is true; fail the test with the log tail on exit or timeout."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        code = running.process.poll()
        if code is not None:
            tail = running.log_tail()
            pytest.fail(f"{running.name} exited with code {code} before {url} was ready. Log tail:\n{tail}")
        try:
            response = requests.get(url, timeout=5)
            if ready(response):
                return
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as error:
            last_error = f"{type(error).__name__}"
        time.sleep(interval)
    pytest.fail(
        f"{running.name} was not ready at {url} after {timeout:.0f} s ({last_error}). "
        f"Log ({running.log_file}) tail:\n{running.log_tail()}"
    )


# ---- Rasa ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The trained Rasa model for the current training data (trained first if missing; takes minutes)."""
    try:
        return nlu.ensure_model()
    except nlu.RasaNotInstalledError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def rasa_server(rasa_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real `rasa run --enable-api` serving `rasa_model` on a free port."""
    port = free_port()
    command = nlu.rasa_command("run", "--enable-api", "--model", str(rasa_model), "--port", str(port))
    command += ["--interface", "127.0.0.1"]
    base_url = f"http://127.0.0.1:{port}"
    log_dir = tmp_path_factory.mktemp("rasa-server")
    with start_process("rasa", command, log_dir, env=nlu.rasa_env()) as running:
        wait_for_http(
            running,
            f"{base_url}/status",
            timeout=RASA_START_TIMEOUT,
            ready=lambda response: response.ok and bool(response.json().get("model_file")),
        )
        yield base_url
