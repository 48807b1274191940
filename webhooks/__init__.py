"""The Régua web app (Flask): Twilio webhooks, health, the payment pages and the agent console.

Build it with `create_app()`; gunicorn runs `webhooks:create_app()`. One blueprint per area, each view
thin (check, parse, one service call in `bot/`, render): `twilio` (inbound messages and delivery status),
`payments` (payment page, chat images, provider confirmations), `health`, `metrics` (`/metrics` for
Prometheus, and every request's latency), `auth` (`/`: login, logout,
session expiry), `console` (the agent console's queue), `console_thread` (its conversation page: thread,
composer, notes, give back), `console_card` (the debtor card's actions on that page), `console_cases`
(its open cases, resolved there), `console_people` (people management for admins), `console_nlu` (the
NLU inbox, and the thread's "o robô não entendeu"), `console_nlu_models` (candidate NLU models:
training, evaluation, the quality gate, promote), `console_nlu_serving` (which NLU model answers, the
swap in progress, its history, rollback), `console_views` (what they share: the viewer, a refused
action), `sandbox` (development only).
Around them:
`extensions` (database and Redis per app), `local_access` (loopback or token: who may read `/health/ready`
and `/metrics`), `errors` (every error mapped in one place), `headers` (security
headers), `access_log` (gunicorn's access log, tokens masked); templates in `templates/`, scripts and
styles in `static/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from bot.config import Settings, get_settings
from bot.logging_setup import configure_logging
from bot.money import format_brl

# Twilio webhooks are a few KB; nothing legitimate posts more than this.
MAX_REQUEST_BYTES = 256 * 1024


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Create the app. `config` is a `Settings`, or a mapping of Flask config keys that may carry
    `REGUA_SETTINGS`; by default the settings come from the environment."""
    flask_config: dict[str, Any] = {}
    if isinstance(config, Settings):
        settings = config
    else:
        flask_config = dict(config or {})
        settings = flask_config.pop("REGUA_SETTINGS", None) or get_settings()

    configure_logging(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        TESTING=settings.env == "test",
    )
    app.config.update(flask_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.add_template_filter(format_brl, "brl")
    app.extensions["regua_settings"] = settings

    from webhooks.extensions import console, conversations, db, redis_ext

    db.init_app(app, settings)
    redis_ext.init_app(app, settings)
    conversations.init_app(app, settings)
    console.init_app(app, settings)

    from webhooks import (
        auth,
        console_card,
        console_cases,
        console_nlu,
        console_nlu_models,
        console_nlu_serving,
        console_people,
        console_thread,
        health,
        metrics,
        payments,
        sandbox,
        twilio,
    )
    from webhooks import console as console_pages

    auth.init_app(app, settings)
    app.register_blueprint(health.bp)
    metrics.init_app(app, settings)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(console_pages.bp)
    app.register_blueprint(console_thread.bp)
    app.register_blueprint(console_card.bp)
    app.register_blueprint(console_cases.bp)
    app.register_blueprint(console_people.bp)
    app.register_blueprint(console_nlu.bp)
    app.register_blueprint(console_nlu_models.bp)
    app.register_blueprint(console_nlu_serving.bp)
    console_cases.init_app(app)
    app.register_blueprint(twilio.bp)
    app.register_blueprint(payments.bp)
    # Signed by Twilio and by the payment provider (checked in each view): no browser form, no CSRF token.
    console.csrf.exempt(twilio.bp)
    console.csrf.exempt(payments.bp)
    if settings.sandbox and settings.env != "production":  # development only, never with real traffic
        app.register_blueprint(sandbox.bp)

    from webhooks.errors import register_error_handlers

    register_error_handlers(app)

    from webhooks import headers

    headers.init_app(app, settings)
    return app
