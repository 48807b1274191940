"""Every error becomes a response here, in one place: JSON for API clients, short HTML for people."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template_string, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from bot.people.roles import NotAllowed

log = logging.getLogger(__name__)

# A form without a valid CSRF token: most often a page left open past the session, so say what to do.
CSRF_MESSAGE = (
    "Este formulário expirou ou não veio desta página. Recarregue a página e tente de novo, por favor."
)

# Portuguese texts shown to people; API clients also get the machine-readable `error` code.
MESSAGES = {
    400: "Não foi possível entender a requisição.",
    403: "Acesso não autorizado.",
    404: "Página não encontrada.",
    405: "Método não permitido para este endereço.",
    413: "A requisição é grande demais.",
    429: "Muitas requisições em pouco tempo. Tente novamente em instantes.",
    500: "Tivemos um problema interno. Já estamos verificando; tente novamente em alguns minutos.",
    503: "Serviço temporariamente indisponível. Tente novamente em instantes.",
}

_PAGE = """<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ code }} · Régua</title>
<link rel="stylesheet" href="{{ url_for('static', filename='site.css') }}"></head>
<body>
<h1>{{ code }}</h1><p>{{ message }}</p></body></html>"""


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith(("/webhooks/", "/api/", "/health")) or best == "application/json"


def error_response(code: int, error: str, message: str | None = None) -> tuple[Response | str, int]:
    """The response for an error `code`, in the format the client wants."""
    text = message or MESSAGES.get(code, MESSAGES[500])
    if _wants_json():
        return jsonify(error=error, message=text), code
    return render_template_string(_PAGE, code=code, message=text), code


def register_error_handlers(app: Flask) -> None:
    """Map HTTP errors and unexpected exceptions to responses."""

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):  # type: ignore[no-untyped-def]
        return error_response(400, "csrf_failed", CSRF_MESSAGE)

    @app.errorhandler(NotAllowed)
    def handle_not_allowed(exc: NotAllowed):  # type: ignore[no-untyped-def]
        return error_response(403, "forbidden", str(exc))

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = exc.code or 500
        return error_response(code, (exc.name or "error").lower().replace(" ", "_"))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # Logged with the traceback but never the request body: it may hold personal data.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_server_error")
