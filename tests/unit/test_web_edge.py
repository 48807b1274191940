"""The web edge: liveness and readiness checks, the security headers of every page, and URL tokens kept
out of the logs (issue 14 §3 and §5)."""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from gunicorn.config import Config
from sqlalchemy import select

from bot.cached_probe import CachedProbe
from bot.config import ConfigError, Settings, load_settings, override
from bot.db import Database
from bot.logging_setup import RedactSecrets, mask_tokens
from bot.models import Creditor, Invoice
from bot.payments import links
from tests.conftest import People
from tests.faults import hung_server
from webhooks import create_app
from webhooks.access_log import MaskedLogger
from webhooks.extensions import conversations

HEALTH_TOKEN = "health-token-0123456789abcdef"
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def app(settings: Settings, db: Database, redis_conn) -> Flask:  # type: ignore[no-untyped-def]
    return create_app(override(settings, rasa_url="http://127.0.0.1:9", health_token=HEALTH_TOKEN))


# ---- liveness and readiness ------------------------------------------------------------------------------


def test_liveness_says_only_ok_and_touches_neither_database_nor_redis(
    settings: Settings, tmp_path: Path
) -> None:
    # Redis on a closed port and a database file with no schema: a deep check would fail on both.
    broken = override(
        settings, redis_url="redis://127.0.0.1:1/0", database_url=f"sqlite:///{tmp_path / 'none.db'}"
    )
    response = create_app(broken).test_client().get("/health", environ_base=REMOTE)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_is_refused_to_a_remote_caller_without_the_token(app: Flask) -> None:
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        response = client.get("/health/ready", environ_base=REMOTE, headers=headers)
        assert response.status_code == 403
        body = response.get_data(as_text=True)
        assert "127.0.0.1" not in body and "checks" not in body


def test_readiness_is_refused_to_a_request_a_local_proxy_forwarded(app: Flask) -> None:
    # A reverse proxy on the same machine connects from 127.0.0.1 on behalf of anyone on the internet.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        response = app.test_client().get("/health/ready", headers={header: "203.0.113.9"})
        assert response.status_code == 403, header


def test_readiness_answers_a_remote_monitor_that_presents_the_health_token(app: Flask) -> None:
    response = app.test_client().get(
        "/health/ready", environ_base=REMOTE, headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}
    )
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"]["ok"] is True


def test_readiness_reports_messages_waiting_in_the_spool_without_failing(
    app: Flask, settings: Settings, db: Database, redis_conn
) -> None:  # type: ignore[no-untyped-def]
    assert app.test_client().get("/health/ready").get_json()["checks"]["spool"]["ok"] is True
    waiting = create_app(settings)
    with waiting.app_context():
        conversations.spool().append({"MessageSid": "SM" + "0" * 32, "Body": "oi"}, time.time())
    answer = waiting.test_client().get("/health/ready")
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    assert answer.get_json()["checks"]["spool"] == {
        "ok": False,
        "detail": "messages received while the database was down wait for replay",
    }


def test_readiness_without_a_health_token_answers_loopback_callers_only(
    settings: Settings, db: Database
) -> None:
    client = create_app(override(settings, health_token=None)).test_client()
    assert client.get("/health/ready", environ_base=REMOTE).status_code == 403
    assert client.get("/health/ready", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_a_hundred_concurrent_readiness_callers_with_rasa_hung_trigger_one_probe(
    settings: Settings, db: Database, redis_conn
) -> None:  # type: ignore[no-untyped-def]
    with hung_server() as rasa_port:
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        app = create_app(override(settings, rasa_url=rasa_url))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=100) as pool:
            answers = list(pool.map(lambda _: app.test_client().get("/health/ready"), range(100)))
        elapsed = time.monotonic() - started
    assert app.extensions["regua_readiness"].runs == 1
    assert all(a.status_code == 200 for a in answers)
    assert all(a.get_json()["checks"]["rasa"]["ok"] is False for a in answers)
    # One probe waits out the Rasa timeout (1 s) once, not once per caller.
    assert elapsed < 5, elapsed


def test_a_stale_readiness_result_is_served_at_once_while_one_caller_refreshes_it() -> None:
    now = [0.0]
    release = threading.Event()
    results = iter(["first", "second"])

    def probe() -> str:
        value = next(results)
        if value == "second":
            release.wait(5)  # the refresh hangs until the test lets it go
        return value

    cached = CachedProbe(probe, ttl=5.0, clock=lambda: now[0])
    assert cached.get() == "first"
    now[0] = 6.0  # stale
    refresher = threading.Thread(target=cached.get)
    refresher.start()
    time.sleep(0.1)  # the refresher holds the lock and hangs in the probe
    started = time.monotonic()
    assert cached.get() == "first"  # not blocked behind the hung refresh
    assert time.monotonic() - started < 0.5
    release.set()
    refresher.join(5)
    assert cached.get() == "second" and cached.runs == 2


def test_health_token_shorter_than_16_characters_is_refused() -> None:
    with pytest.raises(ConfigError, match="HEALTH_TOKEN"):
        load_settings({"HEALTH_TOKEN": "short"})
    settings = load_settings({"HEALTH_TOKEN": HEALTH_TOKEN, "SECRET_KEY": "k" * 20})
    assert HEALTH_TOKEN not in repr(settings)


# ---- security headers ------------------------------------------------------------------------------------


def _pay_link(db: Database, settings: Settings) -> str:
    with db.session() as s:
        creditor = s.scalars(select(Creditor)).one()
        creditor.pix_key, creditor.city = "cobranca@lojaexemplo.com.br", "São Paulo"
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        return links.link_for(s, settings, invoice=invoice).token


def test_every_page_carries_the_security_headers(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    token = _pay_link(db, settings)
    client = app.test_client()
    for path in ("/", "/health", f"/p/{token}", "/nada", "/static/copy.js"):
        response = client.get(path, headers={"Accept": "text/html"})
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert "Strict-Transport-Security" not in headers, path  # plain HTTP outside production


def test_hsts_is_sent_in_production_only(settings: Settings, db: Database) -> None:
    production = create_app(override(settings, env="production")).test_client().get("/health")
    assert production.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_page_holds_an_inline_script_or_style(
    app: Flask, settings: Settings, db: Database, people: People
) -> None:
    token = _pay_link(db, settings)
    client = app.test_client()
    for path in ("/", f"/p/{token}", "/nada"):
        html = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), path
    payment = client.get(f"/p/{token}").get_data(as_text=True)
    assert '<script src="/static/copy.js">' in payment
    assert client.get("/static/copy.js").status_code == 200


# ---- URL tokens out of the logs ----------------------------------------------------------------------------


def test_payment_and_image_tokens_are_masked_in_the_app_logs() -> None:
    args = ("GET", "/p/AbC-123_x")
    record = logging.LogRecord("webhooks", logging.ERROR, __file__, 1, "error on %s %s", args, None)
    RedactSecrets([]).filter(record)
    assert record.getMessage() == "error on GET /p/***"
    line = mask_tokens('GET https://r.example/m/WyJwaXgiXQ.ZzY.sig-_x.png?x=1 "https://r.example/p/tok"')
    assert line == 'GET https://r.example/m/***?x=1 "https://r.example/p/***"'


def test_gunicorns_access_log_masks_payment_and_image_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = MaskedLogger(cfg)
    token = "Zr8pT2kQ_secret-payment-token"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/p/{token}?utm=1",
        "PATH_INFO": f"/p/{token}",
        "QUERY_STRING": "utm=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://regua.example/m/{token}.png",
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", f"https://regua.example/p/{token}")])
    logger.access(response, request, environ, timedelta(milliseconds=3))
    out = capsys.readouterr().out
    assert "GET /p/***?utm=1 HTTP/1.1" in out
    assert token not in out
