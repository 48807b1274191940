"""The processes the bench starts: a source tree to start them from, starting and stopping them (own process
group, output in a log file), waiting until they are ready, and their CPU time."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
import requests

from bench.inbound.constants import BENCH_VAR, BUSY_PATTERN, PROJECT_ROOT, console

PRISM_DIR = BENCH_VAR / "prism"
PRISM_PACKAGE = "@stoplight/prism-cli@5.16.0"
TWILIO_OAI = PROJECT_ROOT.parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"
# Dynamic mock (a fresh SID per message), refusing requests the description does not allow, quiet logs.
PRISM_FLAGS = ("-d", "--errors", "-v", "warn")


@dataclass(frozen=True)
class Tree:
    """A checkout of Régua whose processes the bench starts: its root (the working directory and so the
    `bot` package `python -m bot.cli` runs), its interpreter, and its own models directory when it is not
    the root's `models/` (a baseline whose training data differ needs its own model)."""

    label: str
    root: Path
    models_dir: Path | None = None

    @property
    def python(self) -> Path:
        """The tree's app interpreter (`.venv`, usually a symlink to the shared one)."""
        return self.root / ".venv" / "bin" / "python"

    def env(self) -> dict[str, str]:
        """Variables every process started from this tree gets on top of the bench's."""
        return {"REGUA_MODELS_DIR": str(self.models_dir)} if self.models_dir else {}


CURRENT = Tree("change", PROJECT_ROOT)


def run_in_tree(tree: Tree, source: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the Python `source` with `tree`'s interpreter in its root (so `bot` is the tree's own) and
    return the last line it printed; raise with its error output if it fails."""
    variables = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REGUA_MODELS_DIR")}
    variables.update(tree.env(), **(env or {}))
    done = subprocess.run(
        [str(tree.python), "-c", source, *args],
        cwd=tree.root,
        env=variables,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"in the {tree.label} tree ({tree.root}):\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


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
        with contextlib.suppress(OSError), self.log_file.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
        return ""

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


# The --nice value, applied to the scheduler autogroup of every process the bench starts.
NICE = [0]
# Every process the bench started: stopped again at the end, whatever happened before.
STARTED: list[RunningProcess] = []


def stop_all() -> None:
    """Stop every process the bench started that is still running (a safety net behind the `with`s)."""
    for proc in reversed(STARTED):
        with contextlib.suppress(Exception):
            proc.stop(timeout=10)


@contextlib.contextmanager
def start_process(
    name: str, command: Sequence[str], log_dir: Path, env: dict[str, str], cwd: Path = PROJECT_ROOT
) -> Iterator[RunningProcess]:
    """Run `command` in `cwd` while the `with` block lasts, in its own process group (so stopping it reaches
    its children), output in `<log_dir>/<name>.log`, SIGTERM then SIGKILL at the end; registered for
    stop_all() and at the --nice niceness."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}.log"
    with log_file.open("w") as out:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = RunningProcess(name, process, log_file)
    STARTED.append(proc)
    if NICE[0]:
        # A new session is a new scheduler autogroup (Linux): CFS shares CPU fairly between autogroups
        # whatever each process's niceness, so the group's own niceness is what counts.
        with contextlib.suppress(OSError):
            Path(f"/proc/{process.pid}/autogroup").write_text(str(NICE[0]))
    try:
        yield proc
    finally:
        proc.stop()


def cpu_seconds(proc: RunningProcess) -> float:
    """User + system CPU time of the process and its live descendants so far."""
    try:
        root = psutil.Process(proc.process.pid)
        total = 0.0
        for child in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def wait_until(proc: RunningProcess, ready: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll `ready()` until true; raise with the log tail if the process exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(
                f"{proc.name} exited ({proc.process.returncode}) before {what}:\n{proc.log_tail()}"
            )
        with contextlib.suppress(requests.RequestException, ValueError, redis.RedisError):
            if ready():
                return
        time.sleep(0.5)
    raise RuntimeError(f"{proc.name}: {what} not reached after {timeout:.0f} s:\n{proc.log_tail()}")


def http_ok(
    url: str,
    check: Callable[[requests.Response], bool] = lambda r: r.ok,
    params: dict[str, str] | None = None,
) -> Callable[[], bool]:
    """A readiness check: GET `url` (with `params`, e.g. Rasa's auth token) passes `check`."""
    return lambda: check(requests.get(url, timeout=5, params=params))


def busy_processes() -> list[str]:
    """Command lines of `rasa test` / `rasa train` runs on this machine (they distort the numbers)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if BUSY_PATTERN.search(cmdline):
            found.append(cmdline[:160])
    return found


def prism_bin() -> Path:
    """Prism's executable under var/bench/prism, npm-installing it there first when missing."""
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("Prism needs node and npm (apt-get install nodejs npm), or use --stand-in builtin")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    package = PRISM_DIR / "package.json"
    if not package.exists():
        package.write_text('{"name": "regua-bench-prism", "private": true}\n')
    console.print(f"installing {PRISM_PACKAGE} into {PRISM_DIR} (once) ...")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", PRISM_PACKAGE],
        cwd=PRISM_DIR,
        check=True,
    )
    return binary
