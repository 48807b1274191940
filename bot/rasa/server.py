"""Running the Rasa server: its endpoints file, derived from the settings, and its command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.config import Settings

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
    # Rasa sends `token` as the `?token=` query parameter of every action call; the action server checks it.
    action_endpoint = {"url": settings.action_server_url, "token": settings.action_server_token}
    config: dict[str, Any] = {"action_endpoint": action_endpoint}
    if settings.redis_url and urlsplit(settings.redis_url).scheme in ("redis", "rediss"):
        store = redis_store_config(settings.redis_url)
        # LGPD: a tracker (the conversation's text) expires RETENTION_TRACKER_DAYS after its last turn.
        expiry = settings.retention_tracker_days * 86400
        config["tracker_store"] = {"type": "redis", **store, "record_exp": expiry}
        config["lock_store"] = {"type": "redis", **store}
    return config


def credentials_config(settings: Settings) -> dict[str, Any]:
    """Rasa's input channels: only the REST channel, behind the Rasa auth token (Rasa's `--auth-token`
    does not guard input channels, so `rasa_extensions.guarded_rest` does)."""
    return {GUARDED_REST_CHANNEL: {"token": settings.rasa_auth_token}}


GUARDED_REST_CHANNEL = "rasa_extensions.guarded_rest.GuardedRestInput"


def _write_private(settings: Settings, name: str, config: dict[str, Any]) -> Path:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / name
    path.touch(mode=0o600)
    path.chmod(0o600)  # before the secrets are written: the file may have existed with wider rights
    # JSON is valid YAML; it avoids a YAML dependency in the app environment.
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def write_endpoints(settings: Settings) -> Path:
    """Write var/endpoints.yml (readable only by this user: it holds the action server token and may hold
    the Redis password)."""
    return _write_private(settings, "endpoints.yml", endpoints_config(settings))


def write_credentials(settings: Settings) -> Path:
    """Write var/credentials.yml (readable only by this user: it holds the Rasa auth token)."""
    return _write_private(settings, "credentials.yml", credentials_config(settings))


def rasa_environment() -> dict[str, str]:
    """Environment for any `rasa` subprocess: no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    return env


def server_environment(settings: Settings) -> dict[str, str]:
    """Environment of the Rasa server: `rasa_environment()` plus the auth token `rasa_extensions.launch`
    turns into `--auth-token` (kept out of the command line, which every local user can read)."""
    return {**rasa_environment(), "RASA_AUTH_TOKEN": settings.rasa_auth_token}


def server_command(
    settings: Settings, model: Path, endpoints: Path, credentials: Path, port: int | None = None
) -> list[str]:
    """The `rasa run` command line serving `model` with the HTTP API on `settings.rasa_host`:`port`
    (`rasa_port` by default; the green slot's is `rasa_green_port`), started through
    `rasa_extensions.launch` (run it with `server_environment()`)."""
    return [
        str(settings.rasa_bin.with_name("python")),  # the interpreter of Rasa's environment
        "-m", "rasa_extensions.launch",
        "run",
        "--enable-api",
        "--model", str(model),
        "--endpoints", str(endpoints),
        "--credentials", str(credentials),
        # The API can retrain and replace the model: loopback unless RASA_HOST opts in to a private network.
        "--interface", settings.rasa_host,
        "--port", str(port or settings.rasa_port),
    ]  # fmt: skip
