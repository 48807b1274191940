"""The application's Prometheus counters and histograms, and the multiprocess mode that sums them.

gunicorn runs several web processes and the workers, dispatchers and scheduler run apart: each one
counts what it does itself. prometheus-client's multiprocess mode keeps every process's values in a
memory-mapped file under `PROMETHEUS_MULTIPROC_DIR` (`<var>/prometheus`), and `/metrics` adds them up
(bot.observability.exposition). The mode must be chosen before the first instrument is built, so the
instruments are built on first use (`instruments()`), after the process's entry point called
`enable_for` (the web app factory, the RQ workers and dispatchers). A process that never calls it
(tests, a one-off CLI command) counts in memory only.

The directory is emptied at start only when no process that wrote to it is still running (a whole-stack
restart): the files of a process that exited stay, so the totals never go down while the stack runs (a
sum that drops would look like a counter reset to Prometheus and be counted again).

Labels are bounded: endpoint names, channels, statuses, Twilio error codes, queue names; never a phone
number, an id or a message.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values

from bot.config import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets for HTTP requests and Rasa calls: Twilio gives a webhook 15 s; a turn usually takes
# tens of milliseconds, a console page a few.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
_FILE_PID = re.compile(r"_(\d+)\.db$")
# Twilio error codes are five digits (30003, 63016...); anything else is folded into one label value.
_TWILIO_CODE = re.compile(r"\d{5}")

# The in-memory registry of a process without multiprocess mode (multiprocess values live in files).
REGISTRY = CollectorRegistry(auto_describe=True)


@dataclass(frozen=True)
class Instruments:
    """Every counter and histogram Régua records into (docs/observability.md describes each)."""

    http_latency: Histogram
    messages: Counter
    delivery_updates: Counter
    delivery_failures: Counter
    rasa_latency: Histogram
    rasa_errors: Counter
    reminders_dispatched: Counter


_BUILT: dict[str, Instruments] = {}
_BUILD_LOCK = threading.Lock()


def enable_multiprocess(directory: Path) -> bool:
    """Count in files under `directory`, shared with the stack's other processes. Call it at the start of
    a long-running process, before anything is recorded; False (and a warning) when the instruments were
    already built in memory."""
    if multiprocess_dir() == str(directory):  # a second app in the same process
        return True
    if "instruments" in _BUILT:
        log.warning("metrics already recorded in memory; multiprocess mode not enabled")
        return False
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        # One starting process at a time decides whether the others are all gone.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _any_writer_alive(directory):
            for path in directory.glob("*.db"):
                path.unlink(missing_ok=True)
        os.environ[MULTIPROC_ENV] = str(directory)
        # prometheus-client picks its value class when imported, which may have been before this call.
        values.ValueClass = values.get_value_class()
        instruments()
    return True


def enable_for(settings: Settings) -> None:
    """A long-running process's start: multiprocess mode in `<var>/prometheus`, except in tests (each test
    process counts in memory, and reads its own counts)."""
    if settings.env != "test":
        enable_multiprocess(settings.var_dir / "prometheus")


def multiprocess_dir() -> str | None:
    """The multiprocess directory in use, or None when this process counts in memory."""
    return os.environ.get(MULTIPROC_ENV) if values.ValueClass is not values.MutexValue else None


def _any_writer_alive(directory: Path) -> bool:
    me = os.getpid()
    for path in directory.glob("*.db"):
        found = _FILE_PID.search(path.name)
        if found and int(found.group(1)) != me and _alive(int(found.group(1))):
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def instruments() -> Instruments:
    """This process's instruments, built on first use (once, even when threads ask at the same time: a
    second build would register every name twice)."""
    built = _BUILT.get("instruments")
    if built is None:
        with _BUILD_LOCK:
            built = _BUILT.get("instruments") or _BUILT.setdefault("instruments", _build(REGISTRY))
    return built


def _build(registry: CollectorRegistry) -> Instruments:
    return Instruments(
        http_latency=Histogram(
            "regua_http_request_duration_seconds",
            "Time the web app took to answer a request, by endpoint (Flask endpoint name).",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        messages=Counter(
            "regua_messages",
            "Messages received (direction=in, status: what the webhook did) and handed to the provider "
            "(direction=out, status: the provider's answer or the failure's kind).",
            ["direction", "channel", "status"],
            registry=registry,
        ),
        delivery_updates=Counter(
            "regua_delivery_updates",
            "Delivery status callbacks applied, by channel and the status they report.",
            ["channel", "status"],
            registry=registry,
        ),
        delivery_failures=Counter(
            "regua_delivery_failures",
            "Outbound messages that failed for good (on sending or by a status callback), by Twilio error "
            "code.",
            ["channel", "error_code"],
            registry=registry,
        ),
        rasa_latency=Histogram(
            "regua_rasa_request_duration_seconds",
            "Time Rasa took to answer a call, by operation (turn, parse, tracker_event, status).",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        rasa_errors=Counter(
            "regua_rasa_errors",
            "Rasa calls that failed, by operation and reason (unreachable, refused, http_5xx, http_4xx, "
            "bad_answer).",
            ["operation", "reason"],
            registry=registry,
        ),
        reminders_dispatched=Counter(
            "regua_reminders_dispatched",
            "Reminder outbox rows the dispatchers settled, by outcome (sent, skipped, deferred, retried, "
            "fell_back, failed).",
            ["outcome"],
            registry=registry,
        ),
    )


def error_code_label(code: int | str | None) -> str:
    """The `error_code` label of a failure: Twilio's five-digit code, `none` without one, else `other`."""
    if code is None or code == "":
        return "none"
    text = str(code).strip()
    return text if _TWILIO_CODE.fullmatch(text) else "other"


def count_failure(channel: str, code: int | str | None) -> None:
    """Count an outbound message that failed for good on `channel` with the provider's `code`."""
    instruments().delivery_failures.labels(channel, error_code_label(code)).inc()
