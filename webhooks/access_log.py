"""gunicorn's logger for the web app, with payment-page tokens and signed image tokens masked.

The access log writes each request line, path, query and referer: for `/p/<token>` and `/m/<token>.png`
that is the token itself, which opens a debtor's payment page or image. `regua web` starts gunicorn with
`--logger-class webhooks.access_log.MaskedLogger`, so no custom access-log format can bring them back:
every atom is masked before formatting. The error log ("Error handling request /p/...") gets the same
filter the app's own logs have (bot.logging_setup), and with LOG_FORMAT=json both logs write one JSON
object per line like the app's.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from bot.config import get_settings
from bot.logging_setup import RedactSecrets, formatter, mask_tokens


class MaskedLogger(Logger):
    """`gunicorn.glogging.Logger` with URL tokens replaced by `***` in access and error log lines."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's set-up, then the token filter on the error log."""
        super().setup(cfg)
        if not any(isinstance(f, RedactSecrets) for f in self.error_log.filters):
            self.error_log.addFilter(RedactSecrets([]))
        settings = get_settings()
        if settings.log_format == "json":  # production: the same one-object-per-line as the app's logs
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(formatter(settings))

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The access log's atoms (request line, path, query, headers, environ) with tokens masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask_tokens(v) if isinstance(v, str) else v for key, v in atoms.items()}
