"""Running the Rasa server: its endpoints file, derived from the settings, and its command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.config import PROJECT_ROOT, Settings

# Rasa's keys live next to Régua's (RQ) in the same Redis; the prefix keeps them apart. Rasa accepts
# only letters and digits in it (anything else is dropped for its default, with a warning).
RASA_KEY_PREFIX = "reguarasa"


def redis_store_config(redis_url: str) -> dict[str, Any]:
    """Keyword arguments for Rasa's RedisTrackerStore/RedisLockStore from a `redis://` URL."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("Rasa's Redis stores need a TCP redis:// or rediss:// URL")
    db = parts.path.lstrip("/") or "0"
    config: dict[str, Any] = {
        "url": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(db),
        "key_prefix": RASA_KEY_PREFIX,
        "use_ssl": parts.scheme == "rediss",
    }
    if parts.username:
        config["username"] = unquote(parts.username)
    if parts.password:
        config["password"] = unquote(parts.password)
    return config


def endpoints_config(settings: Settings) -> dict[str, Any]:
    """The Rasa endpoints: the action server, and Redis tracker and lock stores when `REDIS_URL` is set
    (so several Rasa replicas share conversations and a restart loses none)."""
    config: dict[str, Any] = {"action_endpoint": {"url": settings.action_server_url}}
    if settings.redis_url and urlsplit(settings.redis_url).scheme in ("redis", "rediss"):
        store = redis_store_config(settings.redis_url)
        # LGPD: a tracker (the conversation's text) expires RETENTION_TRACKER_DAYS after its last turn.
        expiry = settings.retention_tracker_days * 86400
        config["tracker_store"] = {"type": "redis", **store, "record_exp": expiry}
        config["lock_store"] = {"type": "redis", **store}
    return config


def write_endpoints(settings: Settings) -> Path:
    """Write var/endpoints.yml (readable only by this user: it may hold the Redis password)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / "endpoints.yml"
    # JSON is valid YAML; it avoids a YAML dependency in the app environment.
    path.write_text(json.dumps(endpoints_config(settings), indent=2) + "\n")
    path.chmod(0o600)
    return path


def rasa_environment() -> dict[str, str]:
    """Environment for any `rasa` subprocess: no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    return env


def server_command(settings: Settings, model: Path, endpoints: Path, *, host: str = "127.0.0.1") -> list[str]:
    """The `rasa run` command line serving `model` with the HTTP API on `settings.rasa_port`."""
    return [
        str(settings.rasa_bin),
        "run",
        "--enable-api",
        "--model", str(model),
        "--endpoints", str(endpoints),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--interface", host,  # the API can retrain and replace the model: never expose it publicly
        "--port", str(settings.rasa_port),
    ]  # fmt: skip
