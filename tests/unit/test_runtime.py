"""Process plumbing: the embedded Redis, Rasa's generated endpoints, log redaction and the RQ worker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from bot import embedded_redis, health, runtime, worker
from bot.config import Settings, load_settings, override
from bot.conversation import jobs
from bot.logging_setup import RedactSecrets
from bot.rasa import server


def test_embedded_redis_starts_once_and_stops(tmp_path: Path) -> None:
    url = embedded_redis.ensure_running(tmp_path)
    assert url == f"unix://{tmp_path / 'redis.sock'}"
    assert embedded_redis.ensure_running(tmp_path) == url  # already running: reused
    assert redis.Redis.from_url(url).ping()
    assert embedded_redis.stop(tmp_path) is True
    assert embedded_redis.stop(tmp_path) is False


def test_rasa_endpoints_without_redis_use_in_memory_stores(tmp_path: Path) -> None:
    s = load_settings({"REGUA_VAR_DIR": str(tmp_path), "ACTION_SERVER_URL": "http://actions:5055/webhook"})
    config = server.endpoints_config(s)
    assert config == {
        "action_endpoint": {"url": "http://actions:5055/webhook", "token": s.action_server_token}
    }


def test_rasa_endpoints_use_redis_tracker_and_lock_store(tmp_path: Path) -> None:
    s = load_settings(
        {"REGUA_VAR_DIR": str(tmp_path), "REDIS_URL": "rediss://user:p%40ss@cache.example:6380/3"}
    )
    config = server.endpoints_config(s)
    assert config["tracker_store"].pop("record_exp") == 30 * 86400  # RETENTION_TRACKER_DAYS (LGPD)
    for key in ("tracker_store", "lock_store"):
        assert config[key] == {
            "type": "redis",
            "url": "cache.example",
            "port": 6380,
            "db": 3,
            "key_prefix": "reguarasa",
            "use_ssl": True,
            "username": "user",
            "password": "p@ss",
        }
    path = server.write_endpoints(s)
    assert path.stat().st_mode & 0o077 == 0  # it holds the Redis password
    assert '"tracker_store"' in path.read_text()


def test_rasa_server_command_binds_loopback(settings: Settings, tmp_path: Path) -> None:
    cmd = server.server_command(settings, tmp_path / "m.tar.gz", tmp_path / "e.yml", tmp_path / "c.yml")
    assert cmd[1:5] == ["-m", "rasa_extensions.launch", "run", "--enable-api"]
    assert cmd[cmd.index("--interface") + 1] == "127.0.0.1"
    assert server.rasa_environment()["RASA_TELEMETRY_ENABLED"] == "false"


def test_log_filter_masks_secrets_and_url_passwords() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "token %s url %s", ("tok-123456789", None), None
    )
    record.args = ("tok-123456789", "postgresql://u:hunter22@db/x")
    RedactSecrets(["tok-123456789"]).filter(record)
    assert record.getMessage() == "token *** url postgresql://u:***@db/x"


def test_worker_runs_jobs_and_reports_health(settings: Settings, redis_conn: redis.Redis) -> None:
    job = runtime.queue(redis_conn).enqueue(jobs.ping)
    assert worker.run(settings, burst=True) is True
    assert job.get_status(refresh=True) == "finished" and job.return_value() == "pong"
    # a burst worker deregisters when done, so no live worker remains
    assert health.check_workers(redis_conn).ok is False


def test_health_reports_unreachable_services(settings: Settings) -> None:
    assert health.check_rasa("http://127.0.0.1:9").ok is False
    assert health.check_action_server("http://127.0.0.1:9/webhook").ok is False
    assert health.check_redis(redis.Redis.from_url("redis://127.0.0.1:1/0")).ok is False
    assert health.check_web(override(settings, web_port=9)).ok is False


@pytest.mark.parametrize("url", ["unix:///tmp/x.sock", "http://x"])
def test_rasa_redis_store_needs_tcp_url(url: str) -> None:
    with pytest.raises(ValueError):
        server.redis_store_config(url)
