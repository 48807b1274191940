"""Rasa's REST input channel behind the Rasa auth token.

Rasa's `--auth-token` guards its HTTP API (`/status`, `/model/parse`, ...) but no input channel: without this
guard anyone who reaches Rasa's port could talk as any conversation id through `/webhooks/rest/webhook`,
and the actions would answer with that conversation's debtor's data. Rasa loads this class from the
credentials file `regua rasa-server` writes (`var/credentials.yml`, `{"token": ...}`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)


def token_matches(provided: str | None, expected: str) -> bool:
    """True when `provided` equals the (non-empty) `expected` token; compared in constant time."""
    if not expected or provided is None:
        return False
    return hmac.compare_digest(provided.encode(), expected.encode())


class GuardedRestInput(RestInput):
    """The REST channel (same URL, `/webhooks/rest/webhook`) that refuses calls without `?token=`."""

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """The channel with the token of the credentials file (none: every call is refused)."""
        return cls(str((credentials or {}).get("token") or ""))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint with a request middleware checking the token first."""
        blueprint = super().blueprint(on_new_message)
        token = self.token

        @blueprint.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if token_matches(request.args.get("token"), token):
                return None
            # Method, path and address only: the body holds a debtor's message, the query the attempt.
            logger.warning(
                "Rasa refused a call without a valid token: %s %s from %s",
                request.method,
                request.path,
                request.ip,
            )
            return response.json({"error": "unauthorized"}, status=401)

        return blueprint
