"""Starting and stopping the project's processes for the integration tests and the benchmarks.

`start_process()` runs a command in the project root in its own process group, with its output in a log
file, and stops it cleanly (SIGTERM to the group, then SIGKILL) when the `with` block ends; `free_port()`
finds a port for it. No pytest here: `bench/inbound.py` uses these too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.rasa import training


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
        return training.tail(self.log_file, lines)

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
