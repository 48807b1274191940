"""The action server (`regua actions` runs `python -m actions.server`): rasa_sdk's app with Régua's guard.

rasa_sdk's own runner listens on 0.0.0.0 and answers anyone: one `POST /webhook` naming `action_segunda_via`
and a conversation id returned a debtor's debt and payment codes. Here every call must carry the action
server token (Rasa's `action_endpoint` sends it as `?token=`, see `bot.rasa.server.endpoints_config`) and
the server binds to `ACTION_SERVER_HOST` (loopback by default). `GET /health` stays open: it answers
`{"status": "ok"}` and reveals nothing else.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.config import Settings, get_settings
from bot.logging_setup import configure_logging

logger = logging.getLogger("actions.server")  # not "__main__" under `python -m`

# Paths answered without the token: the health check (used by `regua health`, `make run`, load balancers).
OPEN_PATHS = frozenset({"/health"})
ACTIONS_PACKAGE = "actions.actions"


def token_matches(provided: str | None, expected: str) -> bool:
    """True when `provided` equals the (non-empty) `expected` token; compared in constant time."""
    if not expected or provided is None:
        return False
    return hmac.compare_digest(provided.encode(), expected.encode())


def token_guard(token: str) -> Callable[[Request], Awaitable[HTTPResponse | None]]:
    """A Sanic request middleware refusing (401) every call but `OPEN_PATHS` without `?token=<token>`."""

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or token_matches(request.args.get("token"), token):
            return None
        # Method, path and address only: the body names a conversation, the query holds the attempt.
        logger.warning(
            "action server refused a call without a valid token: %s %s from %s",
            request.method,
            request.path,
            request.ip,
        )
        return response.json({"error": "unauthorized"}, status=401)

    return require_token


def build_app(settings: Settings) -> Sanic:
    """rasa_sdk's Sanic app serving Régua's actions, behind the token guard."""
    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    # No CORS: no browser has any business calling the action server.
    app = create_app_for_serve(executor, cors_origins="")
    app.register_middleware(token_guard(settings.action_server_token), "request", priority=100)
    return app


def main() -> None:
    """Serve the actions on `ACTION_SERVER_HOST`:`ACTION_SERVER_PORT` in this process."""
    settings = get_settings()
    configure_logging(settings)
    app = build_app(settings)
    logger.info("action server listening on %s:%s", settings.action_server_host, settings.action_server_port)
    # One process (no Sanic worker manager): signals from honcho/systemd reach the server directly, as
    # with `exec`; the access log stays off (the query string of each call carries the token).
    app.run(
        host=settings.action_server_host,
        port=settings.action_server_port,
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
