"""The optional profile (`--profile`): one more, unmeasured Régua run with py-spy sampling the web app, the
workers and the action server, summarised by library and by Régua function."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.inbound.constants import BENCH_VAR, console
from bench.inbound.load import LoadGenerator, Shot
from bench.inbound.stack import Stack
from bench.inbound.systems import run_regua

TOOLS_DIR = BENCH_VAR / "tools"
PY_SPY_PACKAGE = "py-spy==0.4.3"
PROFILE_HZ = 50

# Where a CPU sample is charged: the first frame from the innermost outwards whose file matches.
PROFILE_BUCKETS = [
    ("database driver (sqlite3/psycopg)", ("sqlite3/", "psycopg/", "psycopg_binary/", "psycopg_pool/")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("twilio client library", ("twilio/",)),
    ("RQ", ("rq/",)),
    ("redis client", ("redis/",)),
    ("HTTP client (requests/urllib3/http/socket)", ("requests/", "urllib3/", "http/", "socket.py", "ssl.py")),
    ("logging", ("logging/",)),
    ("json", ("json/",)),
    ("limits (rate limit)", ("limits/",)),
    ("Flask/Werkzeug", ("flask/", "werkzeug/")),
    ("gunicorn", ("gunicorn/",)),
    ("rasa_sdk/sanic", ("rasa_sdk/", "sanic/", "sanic_routing/")),
    ("Régua code", ("bot/", "webhooks/", "actions/")),
]
# Functions listed with their inclusive time (process entry points and loops left out).
PROFILE_FUNCTIONS = (
    "bot.",
    "webhooks.",
    "actions.",
    "rq.worker.base.BaseWorker.perform_job",
    "rq.worker.worker_classes.SimpleWorker.execute_job",
    "gunicorn.workers.gthread.ThreadWorker.handle_request",
)
PROFILE_SKIP = ("bot.cli.", "bot.worker.run")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy_bin() -> Path:
    """py-spy, pip-installed into var/bench/tools (not the app environment) on first use."""
    binary = TOOLS_DIR / "bin" / "py-spy"
    if not binary.exists():
        console.print(f"installing {PY_SPY_PACKAGE} into {TOOLS_DIR} (once) ...")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(TOOLS_DIR), PY_SPY_PACKAGE],
            check=True,
        )
    return binary


def _frames(stack: str) -> list[tuple[str, str, str]]:
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match:
            frames.append((match["func"], match["file"], match["line"] or "?"))
    return frames


def summarize_profile(raw_files: list[Path], messages: int) -> dict[str, Any]:
    """Shares of the sampled (non-idle) time by library (innermost matching frame) and of the Régua
    functions with the most inclusive time, from py-spy raw (collapsed-stack) files. Under CPU contention
    a runnable thread waiting for a core counts as active too, so shares are meaningful, absolute sample
    times less so: the CPU time per message comes from the process's own counters instead."""
    buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    call_sites: Counter[str] = Counter()
    total = 0
    for path in raw_files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            frames = _frames(stack)
            total += count
            bucket = "other (stdlib, interpreter)"
            for _func, file, _line in reversed(frames):
                name = next((b for b, keys in PROFILE_BUCKETS if any(k in file for k in keys)), None)
                if name:
                    bucket = name
                    break
            buckets[bucket] += count
            own = {f"{file.split('.py')[0].replace('/', '.')}.{func}" for func, file, _line in frames}
            ours = [f for f in frames if f[1].startswith(("bot/", "webhooks/", "actions/"))]
            if ours:
                func, file, line = ours[-1]
                call_sites[f"{file}:{line} ({func})"] += count
            for name in own:
                if name.startswith(PROFILE_FUNCTIONS) and not name.startswith(PROFILE_SKIP):
                    inclusive[name] += count

    def share(samples: int) -> float:
        return round(100 * samples / max(total, 1), 1)

    return {
        "samples": total,
        "active_ms_per_message": round(total / PROFILE_HZ * 1000 / max(messages, 1), 2),
        "by_library_pct": {name: share(n) for name, n in buckets.most_common()},
        "top_inclusive_pct": {name: share(n) for name, n in inclusive.most_common(25)},
        "hot_call_sites_pct": {name: share(n) for name, n in call_sites.most_common(15)},
    }


def profile_regua(
    stack: Stack, gen: LoadGenerator, shots: list[Shot], rate: float, settle: float
) -> dict[str, Any]:
    """Run Régua at `rate` once more with py-spy sampling the web app, the workers and the action server
    (CPU samples only, --nonblocking); return the per-process-group summaries."""
    binary = py_spy_bin()
    out_dir = stack.records.parent / "profile"
    out_dir.mkdir(exist_ok=True)
    seconds = int(len(shots) / rate + settle + 5)
    spies: list[tuple[str, Path, subprocess.Popen]] = []
    for group in ("web", "worker", "actions"):
        for n, proc in enumerate(stack.procs.get(group, [])):
            raw = out_dir / f"{group}-{n}.txt"
            command = [str(binary), "record", "--pid", str(proc.process.pid), "--format", "raw", "--rate"]
            command += [str(PROFILE_HZ), "--duration", str(seconds), "--nonblocking", "--output", str(raw)]
            if group == "web":
                command.append("--subprocesses")
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            spies.append((group, raw, spy))
    time.sleep(1.0)

    def stop_spies() -> None:
        for _group, _raw, spy in spies:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for _group, _raw, spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()

    try:
        # The TwiML replies' status callbacks, played after the run, are not profiled.
        outcome = run_regua(stack, gen, shots, rate, settle, before_callbacks=stop_spies)
    finally:
        stop_spies()
    result: dict[str, Any] = {"rate": rate, "messages": len(shots), "sample_hz": PROFILE_HZ}
    for group in ("web", "worker", "actions"):
        result[group] = summarize_profile([raw for g, raw, _ in spies if g == group], len(shots))
        result[group]["cpu_ms_per_message"] = round(outcome.cpu.get(group, 0.0) * 1000 / len(shots), 2)
    result["run_under_profiler"] = outcome.row()
    return result
