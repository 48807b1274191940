"""`/metrics` for Prometheus (issue 18 §4): who may read it, what it exposes, and that the values move
with the work they count. The counters of this process are in memory (tests count without multiprocess
mode), so each test compares a value before and after."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from flask import Flask

from bot.channels import PermanentSendError
from bot.config import PROJECT_ROOT, Settings, override
from bot.db import Database
from bot.localtime import local_date
from bot.models import OutboxEntry, OutboxStatus, utcnow
from bot.observability.gauges import BackgroundReading, Failed
from bot.observability.instruments import REGISTRY, error_code_label
from bot.rasa.client import RasaClient, RasaUnavailable
from tests.conftest import People
from tests.faults import hung_server
from tests.unit.conftest import FakePool, FakeSender, post_message
from webhooks import create_app

METRICS_TOKEN = "metrics-token-0123456789abcdef"
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
# Every metric docs/observability.md describes.
METRIC_NAMES = (
    "regua_http_request_duration_seconds",
    "regua_messages_total",
    "regua_delivery_updates_total",
    "regua_delivery_failures_total",
    "regua_rasa_request_duration_seconds",
    "regua_rasa_errors_total",
    "regua_reminders_dispatched_total",
    "regua_scrape_source_up",
    "regua_queue_jobs",
    "regua_outbox_backlog",
    "regua_outbox_oldest_due_days",
)


def value(name: str, **labels: str) -> float:
    """A sample of this process's counters (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_app(app: Flask, settings: Settings) -> Flask:
    """The conversation app (stand-in Rasa and sender) with a METRICS_TOKEN configured."""
    app.extensions["regua_settings"] = override(app.extensions["regua_settings"], metrics_token=METRICS_TOKEN)
    return app


def scrape(app: Flask, **kwargs) -> str:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_metrics_are_refused_to_a_remote_caller_without_the_token(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        response = client.get("/metrics", environ_base=REMOTE, headers=headers)
        assert response.status_code == 403
        assert "regua_" not in response.get_data(as_text=True)


def test_metrics_are_refused_to_a_request_a_local_proxy_forwarded(metrics_app: Flask) -> None:
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert metrics_app.test_client().get("/metrics", headers={header: "203.0.113.9"}).status_code == 403


def test_metrics_answer_a_remote_scraper_that_presents_the_metrics_token(metrics_app: Flask) -> None:
    text = scrape(metrics_app, environ_base=REMOTE, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert "regua_messages_total" in text


def test_without_a_metrics_token_only_loopback_callers_may_read_the_metrics(
    settings: Settings, db: Database
) -> None:
    client = create_app(override(settings, metrics_token=None)).test_client()
    assert client.get("/metrics", environ_base=REMOTE).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_every_documented_metric_is_exposed_and_the_database_and_redis_are_reported_up(
    metrics_app: Flask,
) -> None:
    deadline = time.monotonic() + 5
    text = scrape(metrics_app)
    while 'regua_scrape_source_up{source="database"} 1.0' not in text and time.monotonic() < deadline:
        time.sleep(0.05)  # the first reading of each source runs in the background
        text = scrape(metrics_app)
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'regua_scrape_source_up{source="redis"} 1.0' in text
    assert 'regua_queue_jobs{queue="reminders",state="queued"} 0.0' in text


def test_documentation_describes_every_metric_and_the_grafana_dashboard_uses_only_those() -> None:
    docs = PROJECT_ROOT / "docs"
    described = (docs / "observability.md").read_text(encoding="utf-8")
    for name in METRIC_NAMES:
        assert f"`{name}`" in described, name
    dashboard = json.loads((docs / "grafana-regua.json").read_text(encoding="utf-8"))
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {re.sub(r"_bucket$", "", n) for q in queries for n in re.findall(r"regua_\w+", q)}
    assert used == set(METRIC_NAMES)  # every metric has a panel, and no panel queries a name we lack


def test_an_inbound_webhook_moves_the_latency_histogram_and_the_messages_received(
    metrics_app: Flask, settings: Settings, people: People
) -> None:
    latency = {"endpoint": "twilio.messages"}
    before = value("regua_http_request_duration_seconds_count", **latency)
    inbound = {"direction": "in", "channel": "whatsapp", "status": "answered"}
    received = value("regua_messages_total", **inbound)
    sent = value("regua_messages_total", direction="out", channel="whatsapp", status="queued")
    response, _form = post_message(metrics_app, settings, "oi")
    assert response.status_code == 200
    assert value("regua_http_request_duration_seconds_count", **latency) == before + 1
    assert value("regua_messages_total", **inbound) == received + 1
    assert value("regua_messages_total", direction="out", channel="whatsapp", status="queued") > sent
    assert 'endpoint="twilio.messages"' in scrape(metrics_app)


def test_a_send_that_fails_for_good_is_counted_by_its_twilio_error_code(
    metrics_app: Flask, settings: Settings, people: People, sender: FakeSender
) -> None:
    failure = {"channel": "whatsapp", "error_code": "63016"}
    before = value("regua_delivery_failures_total", **failure)
    failed = value("regua_messages_total", direction="out", channel="whatsapp", status="failed")
    sender.failures = [PermanentSendError("Twilio 400, code 63016", code=63016, status=400)]
    post_message(metrics_app, settings, "oi")
    assert value("regua_delivery_failures_total", **failure) == before + 1
    assert value("regua_messages_total", direction="out", channel="whatsapp", status="failed") == failed + 1
    assert 'regua_delivery_failures_total{channel="whatsapp",error_code="63016"}' in scrape(metrics_app)


def test_rasa_calls_are_timed_and_their_failures_counted_by_reason() -> None:
    turns = value("regua_rasa_request_duration_seconds_count", operation="turn")
    RasaClient("http://rasa", 1.0, FakePool(body=[{"text": "Olá!"}])).turn("s1", "oi")  # type: ignore[arg-type]
    assert value("regua_rasa_request_duration_seconds_count", operation="turn") == turns + 1
    for pool, reason in (
        (FakePool(error=urllib3.exceptions.NewConnectionError(None, "refused")), "unreachable"),  # type: ignore[arg-type]
        (FakePool(status=500, body={"error": "boom"}), "http_5xx"),
        (FakePool(status=401), "refused"),
        (FakePool(body=b"<html>"), "bad_answer"),
    ):
        errors = value("regua_rasa_errors_total", operation="parse", reason=reason)
        with pytest.raises(RasaUnavailable):
            RasaClient("http://rasa", 1.0, pool).parse("oi")  # type: ignore[arg-type]
        assert value("regua_rasa_errors_total", operation="parse", reason=reason) == errors + 1, reason


def test_the_outbox_backlog_counts_the_rows_due_and_not_sent(
    metrics_app: Flask, db: Database, people: People
) -> None:
    today = local_date(utcnow())  # Brazil's date, not the machine's (UTC)
    rows = [
        (OutboxStatus.PENDING, today - timedelta(days=3)),
        (OutboxStatus.PENDING, today),
        (OutboxStatus.SENDING, today),
        (OutboxStatus.PENDING, today + timedelta(days=5)),  # not due yet
        (OutboxStatus.SENT, today - timedelta(days=9)),  # sent: no backlog
    ]
    with db.session() as s:
        for n, (status, send_on) in enumerate(rows):
            s.add(
                OutboxEntry(
                    debtor_id=people.debtor_id, creditor_id=people.creditor_id, cadence="padrao",
                    step_id=f"passo-{n}", send_on=send_on, status=status,
                )
            )  # fmt: skip
    deadline = time.monotonic() + 5
    text = scrape(metrics_app)
    while "regua_outbox_backlog{" not in text and time.monotonic() < deadline:
        time.sleep(0.05)
        text = scrape(metrics_app)
    assert 'regua_outbox_backlog{status="pending"} 2.0' in text
    assert 'regua_outbox_backlog{status="sending"} 1.0' in text
    assert "regua_outbox_oldest_due_days 3.0" in text


def test_metrics_answer_quickly_with_redis_hung_and_the_database_down(
    settings: Settings, tmp_path: Path
) -> None:
    with hung_server() as port:
        broken = override(
            settings,
            redis_url=f"redis://127.0.0.1:{port}/0",
            database_url=f"sqlite:///{tmp_path / 'no-schema.db'}",
        )
        client = create_app(broken).test_client()
        for _ in range(3):
            started = time.monotonic()
            response = client.get("/metrics")
            assert response.status_code == 200
            assert time.monotonic() - started < 1.0
        text = response.get_data(as_text=True)
    assert 'regua_scrape_source_up{source="database"} 0.0' in text
    assert 'regua_scrape_source_up{source="redis"} 0.0' in text
    assert "regua_outbox_backlog{" not in text and "regua_queue_jobs{" not in text
    assert "# TYPE regua_messages_total counter" in text


def test_a_hung_reading_is_reported_failed_within_the_wait_and_run_once_at_a_time() -> None:
    calls: list[float] = []

    def hang() -> int:
        calls.append(time.monotonic())
        time.sleep(2)
        return 1

    reading = BackgroundReading(hang, ttl=0.0, max_age=0.0, wait=0.05)
    started = time.monotonic()
    results = [reading.get() for _ in range(5)]
    assert time.monotonic() - started < 1.0
    assert all(isinstance(r, Failed) for r in results)
    assert len(calls) == 1  # the hung read is not started again while it runs


def test_a_reading_is_served_from_cache_until_it_is_older_than_its_ttl() -> None:
    now = [0.0]
    reads: list[int] = []
    second_may_finish = threading.Event()

    def read() -> int:
        reads.append(len(reads) + 1)
        if len(reads) > 1:
            second_may_finish.wait(5)
        return len(reads)

    reading = BackgroundReading(read, ttl=10.0, max_age=30.0, wait=1.0, clock=lambda: now[0])
    assert reading.get() == 1
    now[0] = 9.0
    assert reading.get() == 1 and reads == [1]  # fresh: not read again
    now[0] = 11.0
    assert reading.get() == 1  # stale but servable: answered at once while the refresh runs
    second_may_finish.set()
    deadline = time.monotonic() + 5
    while reading.get() == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reading.get() == 2 and reads == [1, 2]


def test_error_code_labels_stay_bounded() -> None:
    assert error_code_label(63016) == "63016"
    assert error_code_label("30003") == "30003"
    assert error_code_label(None) == "none"
    assert error_code_label("+5511987654321") == "other"  # never a phone number, never anything unbounded
    assert error_code_label("abc") == "other"
