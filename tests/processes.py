"""Starting and stopping the project's processes for the integration tests: the benchmark's process helpers
(bench/inbound/processes.py: own process group, output in a log file, SIGTERM then SIGKILL at the end),
with this process's environment by default. No pytest here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.inbound.processes import RunningProcess, free_port
from bench.inbound.processes import start_process as _start_process

__all__ = ["RunningProcess", "free_port", "start_process"]


@contextlib.contextmanager
def start_process(
    name: str, command: Sequence[str], log_dir: Path, *, env: dict[str, str] | None = None
) -> Iterator[RunningProcess]:
    """Run `command` in the project root while the `with` block lasts; output to `<log_dir>/<name>.log`."""
    with _start_process(name, command, log_dir, env if env is not None else dict(os.environ)) as running:
        yield running
