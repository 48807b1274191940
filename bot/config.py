"""Configuration: the environment is read once, validated, and turned into a frozen `Settings`.

Every process (web, worker, actions, CLI) calls `get_settings()`; nothing else in the code base reads
`os.environ` for application settings. A `.env` file in the project root is loaded first (python-dotenv),
without overriding variables already set in the real environment.

Bad values fail loudly at start-up with `ConfigError`, whose message names the variable.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

from bot import production_checks
from bot.config_parsing import (
    ConfigError,
    _bearer_token,
    _bool,
    _check_rate_limit,
    _database_url,
    _development_secret,
    _float,
    _int,
    _internal_services,
    _log_format,
    _media_signing_keys,
    _payment_secret,
    _phone_sender,
    _price,
    _privacy_hash_key,
    _text,
    _url,
    derived_token,
    is_loopback,
    redact_url,
)
from bot.hours import InvalidHours, parse_hours

__all__ = [
    "PROJECT_ROOT",
    "ConfigError",
    "Settings",
    "check_production",
    "derived_token",
    "get_settings",
    "is_loopback",
    "load_settings",
    "override",
    "redact_url",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class Settings:
    """Validated application settings. Secrets are excluded from `repr` so they never reach a log.

    A secret is a `repr=False` field named after its variable in lower case (`secret_key` is
    SECRET_KEY): in production every such field is held to `bot.production_checks`' secret rule and
    masked by the log filter, without being listed anywhere else.
    """

    env: str = "development"
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line (the default in production)
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    # Candidate NLU models (issue 17 §4): trained here, apart from the served ones in models_dir.
    candidates_dir: Path = PROJECT_ROOT / "var" / "candidates"
    # Storage. None means "embedded default": a SQLite file / a private Redis on a unix socket in var_dir.
    database_url: str | None = None
    redis_url: str | None = None
    # Web app.
    web_host: str = "127.0.0.1"
    web_port: int = 5000
    # gunicorn: worker processes (each uses at most one core) and threads per process (requests in flight).
    web_workers: int = 2
    web_threads: int = 4
    public_base_url: str = "http://127.0.0.1:5000"
    secret_key: str = field(default="", repr=False)
    # Rasa server and action server (both reached over HTTP only).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_port: int = 5005
    # The second Rasa "slot" (green; `rasa_url` is blue): a new model is loaded into the slot that is not
    # answering debtors, then traffic switches to it (bot.nlu_serving, docs/nlu-ops.md).
    rasa_green_url: str = "http://127.0.0.1:5006"
    rasa_green_port: int = 5006
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    action_server_port: int = 5055
    rasa_bin: Path = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
    rasa_timeout_seconds: float = 8.0
    # Internal services (issue 14 §1): where Rasa and the action server listen, and the shared secrets
    # every call between Régua, Rasa and the action server carries. Empty tokens refuse every call.
    rasa_host: str = "127.0.0.1"
    action_server_host: str = "127.0.0.1"
    rasa_auth_token: str = field(default="", repr=False)
    action_server_token: str = field(default="", repr=False)
    # Twilio. With no credentials Régua runs in sandbox mode: outbound messages are stored, not sent.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_whatsapp_from: str | None = None
    twilio_sms_from: str | None = None
    twilio_api_base_url: str | None = None
    # How the webhook hands over the replies it answers inline: "twiml" (in its own response, one
    # <Message> each, up to Twilio's 10) or "api" (messages.create calls before it answers).
    twilio_inline_replies: str = "twiml"
    # Identity (issue 14 §2, see bot.conversation.identity): "cpf" asks the first 3 CPF digits before
    # personal data
    # (the safe default for a real creditor: numbers get recycled); "phone" trusts the registered number.
    identity_check: str = "cpf"
    identity_verification_days: int = 90  # a correct answer is trusted this long, per debtor and number
    identity_max_failures: int = 3  # wrong answers in a row (any channel) that lock the debtor's check
    identity_lock_hours: int = 24  # the count restarts, and a lock ends, this long after the last wrong one
    # Conversations.
    inbound_rate_limit: str = "20/minute;200/hour;1000/day"
    agent_hours: str = "seg-sex 08:00-18:00"
    sms_part_max_chars: int = 612
    # Agent console (docs/agents.md): session idle and absolute lifetimes, failed logins allowed.
    console_idle_minutes: int = 30
    console_session_hours: int = 12
    # An owned conversation its agent has not touched for this long goes back to the queue (0: never).
    console_release_after_minutes: int = 60
    login_rate_limit: str = "5/minute;20/hour"
    login_rate_limit_per_address: str = "20/minute;100/hour"
    # Reminders (the régua).
    whatsapp_send_rate: int = 80  # messages per second per sender, shared by every dispatcher
    sms_send_rate: int = 30
    sms_price_per_segment: str = "0.0735"  # reais per SMS segment, for campaign previews and metrics
    whatsapp_price_per_conversation: str = "0.0400"  # reais per business-initiated conversation (metrics)
    sms_economy: bool = False  # transliterate SMS to GSM-7 (cheaper segments)
    reminder_dispatchers: int = 2
    # Payments.
    payment_webhook_secret: str | None = field(default=None, repr=False)
    payment_link_days: int = 30
    media_url_hours: int = 72
    # --- Secrets, one per purpose (issue 14 §3) ---
    # Keys of the signed image URLs (/m/<token>.png): the first signs, every one verifies, so a key is
    # rotated by prepending a new one and dropping the old after MEDIA_URL_HOURS. Empty (development and
    # test only): one key derived from SECRET_KEY, see `media_keys`.
    media_signing_keys: tuple[str, ...] = field(default=(), repr=False)
    # Web edge (issue 14 §5, 18 §4): who may read `/health/ready` and `/metrics` besides loopback callers
    # (a monitor, Prometheus) sending `Authorization: Bearer <HEALTH_TOKEN or METRICS_TOKEN>`; None: loopback
    # only.
    health_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    # Spool and Redis circuit breaker (issue 14 §4, bot/conversation/spool.py and bot/breaker.py): the web
    # process's
    # Redis calls on the inline path time out after this long, and after this many failures in a row
    # Redis is skipped for the cool-down (the rate limit fails open, work is left to the sweep).
    redis_inline_timeout_seconds: float = 0.25
    redis_breaker_failures: int = 3
    redis_breaker_cooldown_seconds: float = 10.0
    # LGPD (privacy, bot.privacy): how long message bodies and unknown numbers are kept, when Rasa's
    # trackers expire, and the key of the keyed hashes an erasure leaves (see docs/privacy.md).
    retention_body_days: int = 365
    retention_unknown_days: int = 30
    retention_tracker_days: int = 30
    privacy_hash_key: str | None = field(default=None, repr=False)
    # NLU inbox (issue 17, bot.nlu_ops.inbox): a prediction below this confidence goes to ops' inbox.
    nlu_inbox_threshold: float = 0.6

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: `DATABASE_URL`, or the embedded SQLite file under `var_dir`."""
        return self.database_url or f"sqlite:///{self.var_dir / 'regua.db'}"

    @property
    def redis_socket(self) -> Path:
        """Unix socket of the embedded Redis (used only when `REDIS_URL` is not set)."""
        return self.var_dir / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        """The Redis URL in use: `REDIS_URL`, or the embedded server's unix socket."""
        return self.redis_url or f"unix://{self.redis_socket}"

    @property
    def sandbox(self) -> bool:
        """True when no Twilio credentials are configured (messages are stored, not sent)."""
        return not (self.twilio_account_sid and self.twilio_auth_token)

    @property
    def twiml_replies(self) -> bool:
        """True when inline replies go back in the webhook's TwiML response (never in sandbox mode: there
        is no Twilio to read it, so the sandbox channel stores the replies instead)."""
        return not self.sandbox and self.twilio_inline_replies == "twiml"

    @property
    def erasure_key(self) -> bytes:
        """The key of the keyed hashes (HMAC-SHA256) that replace an erased person's CPF and phone numbers:
        `PRIVACY_HASH_KEY`, or one derived from SECRET_KEY. It must outlive key rotations: with another
        key an erased opt-out no longer matches its number (see docs/privacy.md)."""
        if self.privacy_hash_key:
            return self.privacy_hash_key.encode()
        return hmac.new(self.secret_key.encode(), b"regua-privacy-hash", hashlib.sha256).digest()

    @property
    def webhook_auth_token(self) -> str:
        """The key Twilio's request signatures are checked with: the Twilio auth token, or in sandbox mode
        a token derived from SECRET_KEY (`regua chat` signs its requests with it)."""
        if self.twilio_auth_token:
            return self.twilio_auth_token
        return hmac.new(self.secret_key.encode(), b"regua-sandbox-webhooks", hashlib.sha256).hexdigest()

    @property
    def media_keys(self) -> tuple[str, ...]:
        """The media-URL signing keys in use, newest first: MEDIA_SIGNING_KEYS, or outside production a
        key derived from SECRET_KEY (distinct from it, so a fresh clone works without configuration)."""
        if self.media_signing_keys:
            return self.media_signing_keys
        return (hmac.new(self.secret_key.encode(), b"regua-media-signing", hashlib.sha256).hexdigest(),)

    def secret_values(self) -> list[str]:
        """Every secret value in use (configured or derived), for the log filter to mask."""
        values = [v for _name, found in production_checks.secret_fields(self) for v in found]
        return [*values, self.webhook_auth_token, *self.media_keys]

    def redacted(self) -> dict[str, object]:
        """Settings as a dict safe to log: secrets and URL passwords are masked."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.repr and value:
                value = "***"
            elif isinstance(value, str) and "://" in value:
                value = redact_url(value)
            out[f.name] = value
        return out


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
    """Build validated `Settings` from `environ` (default: `.env` overlaid by `os.environ`).

    Raises `ConfigError` naming the first bad variable.
    """
    if environ is None:
        env_file = dotenv if dotenv is not None else PROJECT_ROOT / ".env"
        merged = (
            {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
        )
        merged.update(os.environ)
        environ = merged
    env = environ

    app_env = (_text(env, "REGUA_ENV") or "development").lower()
    if app_env not in {"development", "test", "production"}:
        raise ConfigError(f"REGUA_ENV must be development, test or production, got {app_env!r}")
    log_level = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}, got {log_level!r}")

    var_dir = Path(_text(env, "REGUA_VAR_DIR") or PROJECT_ROOT / "var").resolve()
    models_dir = Path(_text(env, "REGUA_MODELS_DIR") or PROJECT_ROOT / "models").resolve()
    candidates_dir = Path(_text(env, "REGUA_CANDIDATES_DIR") or var_dir / "candidates").resolve()
    web_port = _int(env, "WEB_PORT", 5000, 1, 65535)
    rasa_port = _int(env, "RASA_PORT", 5005, 1, 65535)
    rasa_green_port = _int(env, "RASA_GREEN_PORT", min(rasa_port + 1, 65535), 1, 65535)
    if rasa_green_port == rasa_port:
        raise ConfigError("RASA_GREEN_PORT must differ from RASA_PORT (two Rasa slots, one port each)")
    action_port = _int(env, "ACTION_SERVER_PORT", 5055, 1, 65535)
    http = ("http", "https")

    secret_key = _text(env, "SECRET_KEY")
    if secret_key is None:
        if app_env == "production":
            raise ConfigError("SECRET_KEY is required when REGUA_ENV=production")
        secret_key = _development_secret(var_dir)
    elif len(secret_key) < 16:
        raise ConfigError("SECRET_KEY must be at least 16 characters long")

    sid = _text(env, "TWILIO_ACCOUNT_SID")
    token = _text(env, "TWILIO_AUTH_TOKEN")
    if bool(sid) != bool(token):
        missing = "TWILIO_AUTH_TOKEN" if sid else "TWILIO_ACCOUNT_SID"
        raise ConfigError(f"{missing} is required when the other Twilio credential is set")
    if sid and not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
        raise ConfigError("TWILIO_ACCOUNT_SID must look like AC followed by 32 hexadecimal characters")

    inline_replies = (_text(env, "TWILIO_INLINE_REPLIES") or "twiml").lower()
    if inline_replies not in {"twiml", "api"}:
        raise ConfigError(f"TWILIO_INLINE_REPLIES must be twiml or api, got {inline_replies!r}")

    # Identity (issue 14 §2).
    identity_check = (_text(env, "IDENTITY_CHECK") or Settings.identity_check).lower()
    if identity_check not in {"phone", "cpf"}:
        raise ConfigError(f"IDENTITY_CHECK must be phone or cpf, got {identity_check!r}")
    identity_verification_days = _int(env, "IDENTITY_VERIFICATION_DAYS", 90, 1, 3650)
    identity_max_failures = _int(env, "IDENTITY_MAX_FAILURES", 3, 1, 20)
    identity_lock_hours = _int(env, "IDENTITY_LOCK_HOURS", 24, 1, 24 * 90)

    inbound_rate_limit = _text(env, "INBOUND_RATE_LIMIT") or Settings.inbound_rate_limit
    _check_rate_limit("INBOUND_RATE_LIMIT", inbound_rate_limit)
    login_limits = {
        name: _text(env, name) or default
        for name, default in (
            ("LOGIN_RATE_LIMIT", Settings.login_rate_limit),
            ("LOGIN_RATE_LIMIT_PER_ADDRESS", Settings.login_rate_limit_per_address),
        )
    }
    for name, value in login_limits.items():
        _check_rate_limit(name, value)
    agent_hours = _text(env, "AGENT_HOURS")
    agent_hours = Settings.agent_hours if agent_hours is None else agent_hours
    try:
        parse_hours(agent_hours)
    except InvalidHours as error:
        raise ConfigError(f"AGENT_HOURS: {error}") from None

    settings = Settings(
        env=app_env,
        log_level=log_level,
        log_format=_log_format(env, app_env),
        var_dir=var_dir,
        models_dir=models_dir,
        candidates_dir=candidates_dir,
        database_url=_database_url(env),
        redis_url=_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
        web_host=_text(env, "WEB_HOST") or "127.0.0.1",
        web_port=web_port,
        public_base_url=(_url(env, "PUBLIC_BASE_URL", http) or f"http://127.0.0.1:{web_port}").rstrip("/"),
        secret_key=secret_key,
        rasa_url=(_url(env, "RASA_URL", http) or f"http://127.0.0.1:{rasa_port}").rstrip("/"),
        rasa_port=rasa_port,
        rasa_green_url=(_url(env, "RASA_GREEN_URL", http) or f"http://127.0.0.1:{rasa_green_port}").rstrip(
            "/"
        ),
        rasa_green_port=rasa_green_port,
        action_server_url=_url(env, "ACTION_SERVER_URL", http) or f"http://127.0.0.1:{action_port}/webhook",
        action_server_port=action_port,
        rasa_bin=Path(_text(env, "RASA_BIN") or PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"),
        rasa_timeout_seconds=_float(env, "RASA_TIMEOUT_SECONDS", 8.0, 0.5, 14.0),
        web_workers=_int(env, "WEB_CONCURRENCY", 2, 1, 64),
        web_threads=_int(env, "WEB_THREADS", 4, 1, 64),
        twilio_account_sid=sid,
        twilio_auth_token=token,
        twilio_whatsapp_from=_phone_sender(env, "TWILIO_WHATSAPP_FROM"),
        twilio_sms_from=_phone_sender(env, "TWILIO_SMS_FROM"),
        twilio_api_base_url=_url(env, "TWILIO_API_BASE_URL", http),
        twilio_inline_replies=inline_replies,
        identity_check=identity_check,
        identity_verification_days=identity_verification_days,
        identity_max_failures=identity_max_failures,
        identity_lock_hours=identity_lock_hours,
        inbound_rate_limit=inbound_rate_limit,
        agent_hours=agent_hours,
        sms_part_max_chars=_int(env, "SMS_PART_MAX_CHARS", 612, 160, 1600),
        console_idle_minutes=_int(env, "CONSOLE_IDLE_MINUTES", 30, 5, 1440),
        console_session_hours=_int(env, "CONSOLE_SESSION_HOURS", 12, 1, 72),
        console_release_after_minutes=_int(env, "CONSOLE_RELEASE_AFTER_MINUTES", 60, 0, 10080),
        login_rate_limit=login_limits["LOGIN_RATE_LIMIT"],
        login_rate_limit_per_address=login_limits["LOGIN_RATE_LIMIT_PER_ADDRESS"],
        whatsapp_send_rate=_int(env, "WHATSAPP_SEND_RATE", 80, 1, 1000),
        sms_send_rate=_int(env, "SMS_SEND_RATE", 30, 1, 1000),
        sms_price_per_segment=_price(env, "SMS_PRICE_PER_SEGMENT", "0.0735"),
        whatsapp_price_per_conversation=_price(env, "WHATSAPP_PRICE_PER_CONVERSATION", "0.0400"),
        sms_economy=_bool(env, "SMS_ECONOMY", False),
        reminder_dispatchers=_int(env, "REMINDER_DISPATCHERS", 2, 1, 32),
        payment_webhook_secret=_payment_secret(env),
        payment_link_days=_int(env, "PAYMENT_LINK_DAYS", 30, 1, 365),
        media_url_hours=_int(env, "MEDIA_URL_HOURS", 72, 1, 24 * 30),
        media_signing_keys=_media_signing_keys(env),
        # Web edge (issue 14 §5).
        health_token=_bearer_token(env, "HEALTH_TOKEN"),
        metrics_token=_bearer_token(env, "METRICS_TOKEN"),
        # Spool and Redis circuit breaker (issue 14 §4).
        redis_inline_timeout_seconds=_float(env, "REDIS_INLINE_TIMEOUT_SECONDS", 0.25, 0.05, 5.0),
        redis_breaker_failures=_int(env, "REDIS_BREAKER_FAILURES", 3, 1, 100),
        redis_breaker_cooldown_seconds=_float(env, "REDIS_BREAKER_COOLDOWN_SECONDS", 10.0, 1.0, 600.0),
        # LGPD (privacy).
        retention_body_days=_int(env, "RETENTION_BODY_DAYS", 365, 1, 3650),
        retention_unknown_days=_int(env, "RETENTION_UNKNOWN_DAYS", 30, 1, 3650),
        retention_tracker_days=_int(env, "RETENTION_TRACKER_DAYS", 30, 1, 3650),
        privacy_hash_key=_privacy_hash_key(env),
        nlu_inbox_threshold=_float(env, "NLU_INBOX_THRESHOLD", 0.6, 0.0, 1.0),
    )
    if settings.console_idle_minutes > settings.console_session_hours * 60:
        raise ConfigError("CONSOLE_IDLE_MINUTES must not exceed CONSOLE_SESSION_HOURS (in minutes)")
    if app_env == "production" and settings.sandbox:
        raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required when REGUA_ENV=production")
    # Internal services (issue 14 §1) last, so the errors above keep coming first.
    settings = replace(settings, **_internal_services(env, app_env, secret_key))
    if app_env == "production":
        check_production(settings)
    return settings


def check_production(settings: Settings) -> None:
    """Raise `ConfigError` naming the variable of the first thing production may not run with: a weak
    or placeholder secret, a missing or non-https PUBLIC_BASE_URL, embedded storage, a Redis URL
    without a password (rules in `bot.production_checks`)."""
    found = production_checks.problems(settings)
    if found:
        raise ConfigError(found[0])


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return load_settings()


def override(settings: Settings, **changes: object) -> Settings:
    """A copy of `settings` with some fields changed (for tests and the app factory's `config` argument)."""
    return replace(settings, **changes)  # type: ignore[arg-type]
