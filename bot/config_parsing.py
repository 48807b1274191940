"""Reading one configuration variable: each helper turns an environment value into a checked value or
raises `ConfigError` naming the variable. `bot.config.load_settings` assembles `Settings` from them.

Nothing here imports `bot.config` (which re-exports `ConfigError`, `redact_url`, `is_loopback` and
`derived_token`), so there is no import cycle.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

_TRUE = {"1", "true", "yes", "on", "sim"}
_FALSE = {"0", "false", "no", "off", "nao", "não"}


class ConfigError(ValueError):
    """A configuration variable is missing or has a bad value; the message names it."""


def redact_url(url: str) -> str:
    """Mask the password of a URL (`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(
    env: Mapping[str, str], name: str, schemes: tuple[str, ...], default: str | None = None
) -> str | None:
    raw = _text(env, name)
    if raw is None:
        return default
    parts = urlsplit(raw)
    if parts.scheme not in schemes:
        raise ConfigError(
            f"{name} must be a URL starting with one of {', '.join(s + '://' for s in schemes)}"
        )
    if parts.scheme not in ("sqlite", "unix") and not parts.hostname:
        raise ConfigError(f"{name} must name a host, got {redact_url(raw)!r}")
    return raw


def _database_url(env: Mapping[str, str]) -> str | None:
    url = _url(env, "DATABASE_URL", ("postgresql", "postgres", "postgresql+psycopg", "sqlite"))
    if url is None:
        return None
    # Heroku-style and plain URLs are mapped to the psycopg 3 driver, the one Régua ships with.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _phone_sender(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if raw is None:
        return None
    bare = raw.removeprefix("whatsapp:")
    if not re.fullmatch(r"\+[1-9]\d{6,14}", bare) and not raw.startswith("MG"):
        raise ConfigError(
            f"{name} must be an E.164 number such as +5511999990000 (or a Messaging Service SID)"
        )
    return raw


# ---- internal services (issue 14 §1): bind addresses and shared tokens of Rasa and the action server ----

_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def is_loopback(host: str) -> bool:
    """True when `host` is a loopback bind address (reachable only from this machine)."""
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def derived_token(secret_key: str, purpose: str) -> str:
    """A token derived from SECRET_KEY for one purpose, so a fresh clone's processes agree on it."""
    return hmac.new(secret_key.encode(), f"regua-{purpose}".encode(), hashlib.sha256).hexdigest()


def _internal_services(env: Mapping[str, str], app_env: str, secret_key: str) -> dict[str, str]:
    """RASA_HOST, ACTION_SERVER_HOST, RASA_AUTH_TOKEN and ACTION_SERVER_TOKEN, validated.

    Tokens are required in production; elsewhere they default to values derived from SECRET_KEY. Binding
    to a non-loopback address is the explicit opt-in for a private network, so it needs an explicitly set
    token: a derived development token must never guard a service other machines can reach."""
    out: dict[str, str] = {}
    for host_var, token_var, token_field in (
        ("RASA_HOST", "RASA_AUTH_TOKEN", "rasa_auth_token"),
        ("ACTION_SERVER_HOST", "ACTION_SERVER_TOKEN", "action_server_token"),
    ):
        host = _text(env, host_var) or "127.0.0.1"
        if not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
            raise ConfigError(f"{host_var} must be an IP address or host name to bind to, got {host!r}")
        token = _text(env, token_var)
        if token is None:
            if app_env == "production":
                raise ConfigError(f"{token_var} is required when REGUA_ENV=production")
            if not is_loopback(host):
                raise ConfigError(f"{token_var} must be set when {host_var} is not a loopback address")
            token = derived_token(secret_key, token_field.replace("_", "-"))
        elif len(token) < 16 or not re.fullmatch(r"[\x21-\x7e]+", token):
            raise ConfigError(f"{token_var} must be at least 16 printable characters without spaces")
        out[host_var.lower()] = host
        out[token_field] = token
    return out


# --- Secrets and production checks (issue 14 §3) ----------------------------------------------------------


def _media_signing_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """MEDIA_SIGNING_KEYS: comma-separated keys, newest (the signing one) first."""
    raw = _text(env, "MEDIA_SIGNING_KEYS")
    if raw is None:
        return ()
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if any(len(k) < 16 for k in keys):
        raise ConfigError("MEDIA_SIGNING_KEYS: every key must be at least 16 characters long")
    return keys


def _price(env: Mapping[str, str], name: str, default: str) -> str:
    """A price in reais as decimal text ("0.0735"); kept as text, read as a Decimal where it is used."""
    raw = _text(env, name) or default
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise ConfigError(f"{name} must be a price in reais such as 0.0735, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be a price in reais such as 0.0735, got {raw!r}")
    return str(value)


def _payment_secret(env: Mapping[str, str]) -> str | None:
    secret = _text(env, "PAYMENT_WEBHOOK_SECRET")
    if secret is not None and len(secret) < 16:
        raise ConfigError("PAYMENT_WEBHOOK_SECRET must be at least 16 characters long")
    return secret


def _log_format(env: Mapping[str, str], app_env: str) -> str:
    log_format = (_text(env, "LOG_FORMAT") or ("json" if app_env == "production" else "text")).lower()
    if log_format not in {"text", "json"}:
        raise ConfigError(f"LOG_FORMAT must be text or json, got {log_format!r}")
    return log_format


# Web edge (issue 14 §5): HEALTH_TOKEN, METRICS_TOKEN.
def _bearer_token(env: Mapping[str, str], name: str) -> str | None:
    token = _text(env, name)
    if token is not None and len(token) < 16:
        raise ConfigError(f"{name} must be at least 16 characters long")
    return token


def _privacy_hash_key(env: Mapping[str, str]) -> str | None:
    key = _text(env, "PRIVACY_HASH_KEY")
    if key is not None and len(key) < 32:
        raise ConfigError("PRIVACY_HASH_KEY must be at least 32 characters long")
    return key


def _check_rate_limit(name: str, value: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be limits like '20/minute;200/hour', got {value!r}") from None


def _development_secret(var_dir: Path) -> str:
    """A random secret kept in var/ so development sessions survive restarts without a configured key."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        var_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value)
        path.chmod(0o600)
        return value
