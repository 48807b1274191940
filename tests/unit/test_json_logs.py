"""Logs in production (issue 18 §4): one JSON object per line, with personal data masked by the filter
every record goes through (bot.logging_setup) even when a caller forgets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from bot.config import ConfigError, Settings, get_settings, load_settings, override
from bot.logging_setup import configure_logging
from tests.unit.test_production_config import PLACEHOLDER, production
from webhooks.access_log import MaskedLogger


@pytest.fixture
def json_log(settings: Settings) -> Iterator[io.StringIO]:
    """The root logger's Régua handler configured for JSON, writing into a buffer."""
    configure_logging(override(settings, log_format="json", log_level="INFO"))
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_regua", False))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        configure_logging(settings)


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_log_record_is_one_json_object_on_one_line(json_log: io.StringIO) -> None:
    logging.getLogger("bot.test").warning("dispatcher %s started %d batches", "d1", 3)
    [entry] = lines(json_log)
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.test"
    assert entry["message"] == "dispatcher d1 started 3 batches"
    assert str(entry["time"]).endswith("+00:00") and isinstance(entry["process"], int)


def test_a_cpf_a_phone_number_and_an_amount_logged_by_mistake_are_masked(json_log: io.StringIO) -> None:
    logging.getLogger("bot.test").info(
        "debtor 123.456.789-09 at +5511987654321 or (11) 98765-4321 owes R$ 1.234,56 (99,90 reais)"
    )
    [entry] = lines(json_log)
    message = str(entry["message"])
    for personal in ("123.456.789-09", "5511987654321", "98765-4321", "1.234,56", "99,90"):
        assert personal not in message, personal
    assert message.startswith("debtor *** at *** or *** owes ***")


def test_a_traceback_stays_on_one_line_with_personal_data_scrubbed(json_log: io.StringIO) -> None:
    try:
        raise ValueError("Key (phone)=(+5511987654321) already exists")
    except ValueError:
        logging.getLogger("bot.test").exception("import failed")
    [entry] = lines(json_log)
    assert "ValueError" in str(entry["exception"]) and "5511987654321" not in str(entry["exception"])
    assert len(json_log.getvalue().splitlines()) == 1


def test_production_writes_json_logs_by_default_and_text_may_be_chosen() -> None:
    assert production().log_format == "json"
    assert production(LOG_FORMAT="text").log_format == "text"
    assert load_settings({"REGUA_ENV": "test", "SECRET_KEY": "s" * 20}).log_format == "text"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings({"REGUA_ENV": "test", "SECRET_KEY": "s" * 20, "LOG_FORMAT": "xml"})


def test_production_refuses_a_placeholder_metrics_token() -> None:
    with pytest.raises(ConfigError, match=r"^METRICS_TOKEN"):
        production(METRICS_TOKEN=PLACEHOLDER)
    assert production(METRICS_TOKEN="Rk2Vn8Qx4Lp7Wz3Tb6Yc9Hd5Jf1Gs0Ma").metrics_token


def test_gunicorns_access_log_is_json_too_with_tokens_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    try:
        cfg = Config()
        cfg.set("accesslog", "-")
        logger = MaskedLogger(cfg)
    finally:
        get_settings.cache_clear()
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/p/Zr8pT2kQ_payment-token",
        "PATH_INFO": "/p/Zr8pT2kQ_payment-token",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    entry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert entry["logger"] == "gunicorn.access" and "GET /p/*** HTTP/1.1" in entry["message"]
