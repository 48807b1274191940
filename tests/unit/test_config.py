"""Configuration: defaults, validation that names the bad variable, and secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, redact_url

BASE = {"REGUA_VAR_DIR": "/tmp/regua-config-test"}


def settings_with(**env: str):
    return load_settings({**BASE, **env})


def test_defaults_use_embedded_storage() -> None:
    s = settings_with()
    assert s.database_url is None
    assert s.effective_database_url == "sqlite:////tmp/regua-config-test/regua.db"
    assert s.effective_redis_url == "unix:///tmp/regua-config-test/redis.sock"
    assert s.sandbox is True
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.action_server_url == "http://127.0.0.1:5055/webhook"


def test_postgres_urls_use_psycopg3() -> None:
    assert (
        settings_with(DATABASE_URL="postgres://u:p@db/regua").database_url
        == "postgresql+psycopg://u:p@db/regua"
    )
    assert settings_with(DATABASE_URL="postgresql://db/regua").database_url == "postgresql+psycopg://db/regua"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://localhost/x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql:///nohost"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"WEB_PORT": "70000"}, "WEB_PORT"),
        ({"RASA_TIMEOUT_SECONDS": "20"}, "RASA_TIMEOUT_SECONDS"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"WEB_THREADS": "many"}, "WEB_THREADS"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"REGUA_ENV": "staging"}, "REGUA_ENV"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_AUTH_TOKEN": "x" * 32}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "nope", "TWILIO_AUTH_TOKEN": "x" * 32}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_SMS_FROM": "11 9999"}, "TWILIO_SMS_FROM"),
        ({"PUBLIC_BASE_URL": "ftp://example.com"}, "PUBLIC_BASE_URL"),
        ({"REGUA_ENV": "production", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t" * 32},
         "SECRET_KEY"),
    ],
)  # fmt: skip
def test_bad_values_fail_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_with(**env)


def test_production_requires_twilio() -> None:
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        settings_with(REGUA_ENV="production", SECRET_KEY="s" * 32)


def test_whatsapp_sender_accepts_prefix() -> None:
    s = settings_with(TWILIO_WHATSAPP_FROM="whatsapp:+14155238886")
    assert s.twilio_whatsapp_from == "whatsapp:+14155238886"


def test_secrets_stay_out_of_repr_and_redacted_view() -> None:
    s = settings_with(
        SECRET_KEY="super-secret-value-123",
        TWILIO_ACCOUNT_SID="AC" + "a" * 32,
        TWILIO_AUTH_TOKEN="token-value-abcdef-123456",
        DATABASE_URL="postgresql://user:dbpass@db/regua",
    )
    text = repr(s) + str(s.redacted())
    assert "super-secret-value-123" not in text
    assert "token-value-abcdef-123456" not in text
    assert "dbpass" not in str(s.redacted())
    assert s.redacted()["twilio_auth_token"] == "***"


def test_redact_url() -> None:
    assert redact_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("postgresql://u:p@h/d") == "postgresql://u:***@h/d"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_dotenv_is_read_but_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WEB_PORT=8123\nLOG_LEVEL=debug\nREGUA_VAR_DIR=" + str(tmp_path) + "\n")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.delenv("WEB_PORT", raising=False)
    s = load_settings(dotenv=env_file)
    assert s.web_port == 8123
    assert s.log_level == "WARNING"


def test_development_secret_is_generated_once(tmp_path: Path) -> None:
    first = load_settings({"REGUA_VAR_DIR": str(tmp_path)}).secret_key
    second = load_settings({"REGUA_VAR_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_env_example_documents_every_variable() -> None:
    import re

    from bot.config import PROJECT_ROOT

    # Variables are read in load_settings and in the helpers of bot/config_parsing.py.
    source = "".join((PROJECT_ROOT / "bot" / name).read_text() for name in ("config.py", "config_parsing.py"))
    read = set(re.findall(r'\(env, "([A-Z_]+)"', source)) | set(
        re.findall(r'_text\(env, "([A-Z_]+)"\)', source)
    )
    documented = set(re.findall(r"^#?([A-Z_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    assert read, "no variables found in bot/config.py"
    assert read - documented == set(), "variables missing from .env.example"


def test_env_example_loads() -> None:
    from bot.config import PROJECT_ROOT

    s = load_settings(dotenv=PROJECT_ROOT / ".env.example")
    assert s.web_port == 5000 and s.rasa_timeout_seconds == 8.0


def test_retention_periods_default_and_bad_values_name_their_variable() -> None:
    s = settings_with(SECRET_KEY="x" * 20)
    assert (s.retention_body_days, s.retention_unknown_days, s.retention_tracker_days) == (365, 30, 30)
    for name in ("RETENTION_BODY_DAYS", "RETENTION_UNKNOWN_DAYS", "RETENTION_TRACKER_DAYS"):
        with pytest.raises(ConfigError, match=name):
            settings_with(SECRET_KEY="x" * 20, **{name: "0"})
    with pytest.raises(ConfigError, match="PRIVACY_HASH_KEY"):
        settings_with(SECRET_KEY="x" * 20, PRIVACY_HASH_KEY="short")


def test_the_privacy_hash_key_is_secret_and_outlives_a_secret_key_rotation_when_set() -> None:
    key = "k" * 40
    before = settings_with(SECRET_KEY="a" * 20, PRIVACY_HASH_KEY=key)
    after = settings_with(SECRET_KEY="b" * 20, PRIVACY_HASH_KEY=key)
    assert before.erasure_key == after.erasure_key == key.encode()
    assert key not in repr(before) and before.redacted()["privacy_hash_key"] == "***"
    derived = settings_with(SECRET_KEY="a" * 20).erasure_key
    assert derived != settings_with(SECRET_KEY="b" * 20).erasure_key and b"a" * 20 not in derived
