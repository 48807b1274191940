"""What `REGUA_ENV=production` refuses to start with: weak secrets and a half-configured deployment.

`bot.config` calls `problems(settings)` after building the settings and raises `ConfigError` with the
first problem, which always starts with the variable's name. This module reads no environment and
imports nothing from `bot.config` (the settings arrive as an argument), so there is no import cycle.

The secret rule (applied to every `repr=False` field of `Settings`, present and future; a secret field
is named after its variable, in lower case):
* not a placeholder: not a value shown in `.env.example`, and no word such as "change-me", "secret",
  "password", "example", "placeholder" or "xxxxxx" in it (case, "-" and "_" ignored);
* at least 32 characters;
* at least 128 bits of estimated entropy: length x log2(alphabet), where the alphabet is 10 for digits
  only, 16 for hexadecimal only, else the sum of the classes used (26 lower case, 26 upper case,
  10 digits, 33 others). A 32-character hex token has 128 bits; `secrets.token_urlsafe(48)` has 384;
* at least 8 different characters, and not a short pattern repeated ("abcabcabc...").
Secrets of different purposes must also differ from each other.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128
MIN_DISTINCT_CHARACTERS = 8
GENERATE_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"

# Words that mark a value someone was meant to replace. Six letters or more (but "senha" and "dummy"),
# so a random 64-character token contains one by chance about once in a billion.
_PLACEHOLDER_WORDS = (
    "changeme",
    "replaceme",
    "placeholder",
    "example",
    "secret",
    "password",
    "senha",
    "yourtoken",
    "yourkey",
    "dummy",
    "insecure",
    "default",
    "xxxxxx",
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def example_values(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every value written in `.env.example` (commented or not): public, so never a secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:  # an installed package without the example file: the words still apply
        return set()
    values = {m.group(1).strip() for m in re.finditer(r"^#?[A-Z_]+=(.+)$", text, re.M)}
    return {v for v in values if len(v) >= 8}  # not "true", "INFO" or "5000"


def is_placeholder(value: str) -> bool:
    """True for a value copied from `.env.example` or containing a placeholder word."""
    squeezed = re.sub(r"[^a-z0-9]", "", value.lower())
    return value in example_values() or any(word in squeezed for word in _PLACEHOLDER_WORDS)


def estimated_bits(value: str) -> float:
    """Estimated entropy of `value` in bits (see the module docstring for the alphabet rule)."""
    if not value:
        return 0.0
    if value.isdigit():
        alphabet = 10
    elif re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", value):
        alphabet = 16
    else:
        alphabet = (
            26 * bool(re.search(r"[a-z]", value))
            + 26 * bool(re.search(r"[A-Z]", value))
            + 10 * bool(re.search(r"[0-9]", value))
            + 33 * bool(re.search(r"[^a-zA-Z0-9]", value))
        )
    return len(value) * math.log2(alphabet)


def _repeats_a_pattern(value: str) -> bool:
    n = len(value)
    return any(value == (value[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))


def secret_weakness(value: str) -> str | None:
    """Why `value` is not good enough for a production secret, or None when it is."""
    if is_placeholder(value):
        return "is a placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters long"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS or _repeats_a_pattern(value):
        return "repeats characters"
    bits = estimated_bits(value)
    if bits < MIN_SECRET_BITS:
        return f"has about {bits:.0f} bits of entropy, at least {MIN_SECRET_BITS} are needed"
    return None


def secret_fields(settings: object) -> list[tuple[str, list[str]]]:
    """(variable name, its non-empty values) for every secret field (`repr=False`) of `settings`."""
    out = []
    for f in fields(settings):  # type: ignore[arg-type]
        if f.repr:
            continue
        value = getattr(settings, f.name)
        values = list(value) if isinstance(value, tuple | list) else [value]
        out.append((f.name.upper(), [v for v in values if v]))
    return out


def _url_problem(name: str, url: str | None, *, embedded: str, need_password: bool) -> str | None:
    if url is None or url.startswith(("sqlite", "unix")):
        return f"{name} must point to a server when REGUA_ENV=production ({embedded} is for development)"
    parts = urlsplit(url)
    password = parts.password or (parse_qs(parts.query).get("password") or [None])[0]
    if need_password and not password:
        return f"{name} must carry a password (redis://:PASSWORD@host:6379/0) when REGUA_ENV=production"
    if password and is_placeholder(password):
        return f"{name} has a placeholder password"
    return None


def problems(settings: object) -> list[str]:
    """Every reason `settings` may not run in production, each message starting with the variable."""
    found: list[str] = []
    token = getattr(settings, "twilio_auth_token", None)
    if token and not re.fullmatch(r"[0-9a-fA-F]{32}", token):
        found.append("TWILIO_AUTH_TOKEN must be the account's auth token: 32 hexadecimal characters")
    seen: dict[str, str] = {}
    for name, values in secret_fields(settings):
        for value in values:
            weakness = secret_weakness(value)
            if weakness is not None:
                found.append(f"{name} {weakness}; {GENERATE_HINT}")
            elif value in seen and seen[value] != name:
                found.append(f"{name} must differ from {seen[value]}: one secret per purpose")
            seen.setdefault(value, name)
    if not getattr(settings, "media_signing_keys", ()):
        found.append(f"MEDIA_SIGNING_KEYS is required when REGUA_ENV=production; {GENERATE_HINT}")
    # Derived from SECRET_KEY otherwise, so rotating the session key would silently void erased opt-outs.
    if not getattr(settings, "privacy_hash_key", None):
        found.append(f"PRIVACY_HASH_KEY is required when REGUA_ENV=production; {GENERATE_HINT}")
    base = urlsplit(getattr(settings, "public_base_url", ""))
    host = base.hostname or ""
    # Loopback addresses and the documentation domains (example.com, .example) reach nobody.
    if base.scheme != "https" or host in _LOCAL_HOSTS or "example" in host.split("."):
        found.append(
            "PUBLIC_BASE_URL must be the public https:// address Twilio and debtors reach when "
            "REGUA_ENV=production"
        )
    for problem in (
        _url_problem(
            "DATABASE_URL",
            getattr(settings, "database_url", None),
            embedded="the embedded SQLite",
            need_password=False,
        ),
        _url_problem(
            "REDIS_URL",
            getattr(settings, "redis_url", None),
            embedded="the embedded Redis",
            need_password=True,
        ),
    ):
        if problem:
            found.append(problem)
    return found
