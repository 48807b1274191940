"""Counters summed across processes (gunicorn's workers, the RQ workers): prometheus-client's
multiprocess mode in one shared directory, emptied only when a process starts and no other writer of it
is still running. Each process here is a real one (a subprocess), as in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.config import PROJECT_ROOT
from bot.observability import instruments

COUNT = """
import sys
from pathlib import Path
from bot.observability import instruments
instruments.enable_multiprocess(Path(sys.argv[1]))
instruments.instruments().messages.labels("in", "sms", "answered").inc(int(sys.argv[2]))
print("counted", flush=True)
if sys.argv[3] == "stay":
    sys.stdin.readline()
"""
RENDER = """
import sys
from pathlib import Path
from bot.observability import exposition, instruments
instruments.enable_multiprocess(Path(sys.argv[1]))
print(exposition.render(exposition.scrape_registry())[0].decode())
"""


def python(code: str, *args: str, **kwargs) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=PROJECT_ROOT, text=True, stdout=subprocess.PIPE, **kwargs
    )


def answered(directory: Path) -> float:
    """`regua_messages_total{direction="in",channel="sms",status="answered"}` as a new process sees it."""
    out, _ = python(RENDER, str(directory)).communicate(timeout=60)
    for family in text_string_to_metric_families(out):
        for sample in family.samples:
            if sample.name == "regua_messages_total" and sample.labels.get("channel") == "sms":
                return sample.value
    return 0.0


def test_counts_of_every_process_are_summed_and_kept_until_the_whole_stack_restarts(tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    running = python(COUNT, str(directory), "2", "stay", stdin=subprocess.PIPE)
    try:
        assert running.stdout.readline().strip() == "counted"  # type: ignore[union-attr]
        exited = python(COUNT, str(directory), "3", "exit")
        exited.communicate(timeout=60)
        # The exited process's count stays: a total that went down would look like a counter reset.
        assert answered(directory) == 5.0
    finally:
        running.communicate("\n", timeout=60)
    # Nobody who wrote to the directory is running any more: the next process to start empties it.
    assert answered(directory) == 0.0


def test_a_process_that_already_counted_in_memory_stays_in_memory(tmp_path: Path) -> None:
    instruments.instruments().messages.labels("in", "sms", "answered").inc(0)  # built in memory
    assert instruments.enable_multiprocess(tmp_path / "prometheus") is False
    assert instruments.multiprocess_dir() is None
    assert not list((tmp_path / "prometheus").glob("*.db"))
