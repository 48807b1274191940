"""Logging set-up shared by every process, with a filter that keeps secrets and personal data out of the
logs (configured secrets, URL passwords, the values database and Twilio errors echo, and, as a safety
net, phone numbers, CPFs and amounts in reais).

Lines are text for a person at a terminal, or in production (LOG_FORMAT=json, the default there) one
JSON object each (bot.observability.json_logs)."""

from __future__ import annotations

import logging
import re

from bot.config import Settings
from bot.observability.json_logs import JsonFormatter
from bot.redaction import mask_amounts, scrub

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
# The capability tokens of our URLs: a payment page (/p/<token>) and a signed chat image
# (/m/<token>.png). Whoever reads one in a log could open the debtor's page or image.
_URL_TOKEN = re.compile(r"(/[pm]/)[^\s/?#\"']+")


def mask_tokens(text: str) -> str:
    """`text` with payment-page tokens and signed image tokens replaced by `***` (`/p/***`, `/m/***`)."""
    return _URL_TOKEN.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Replaces configured secret values, URL passwords, URL tokens and personal data (`bot.redaction`:
    phone numbers, CPFs, amounts) in every record with `***`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        # Short values would mask ordinary words; config validation keeps real secrets long.
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = mask_tokens(mask_amounts(scrub(_URL_PASSWORD.sub(r"\1***@", message))))
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ScrubbingFormatter(logging.Formatter):
    """A formatter that also scrubs tracebacks (filters only see the message, not `exc_info`)."""

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]
        return scrub(super().formatException(ei))


def formatter(settings: Settings) -> logging.Formatter:
    """The formatter of `settings.log_format`: one JSON object per line, or text."""
    if settings.log_format == "json":
        return JsonFormatter()
    return ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(settings: Settings) -> None:
    """Configure the root logger once per process (idempotent: the app factory may run several times)."""
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    secrets = settings.secret_values()
    handler = next((h for h in root.handlers if getattr(h, "_regua", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._regua = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(formatter(settings))
    handler.filters = [RedactSecrets(secrets)]
    # Chatty libraries at INFO: Alembic on every schema check (each /health call), Twilio's HTTP client
    # on every send (a dozen lines), RQ on every job. Their warnings and errors still come through.
    for name in ("alembic.runtime.migration", "twilio.http_client", "rq.worker", "rq.queue"):
        logging.getLogger(name).setLevel(logging.WARNING)
