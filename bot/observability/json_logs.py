"""One JSON object per log line (production, or LOG_FORMAT=json): what a log collector parses as is.

Each line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, `process` and,
for an error with a traceback, `exception`. The message is the one the redaction filter already masked
(bot.logging_setup); the traceback is scrubbed here, as filters never see it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.redaction import scrub


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (no newline inside: tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = scrub(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)
