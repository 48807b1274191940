"""Logging in and out of the console: `/` is the login page (and, logged in, leads to the console).

Flask-Login keeps the person's `session_token` (bot.people.accounts) in the signed session cookie, so a
password reset or disabling the person ends every session at once. Sessions expire on the server side
too: after `CONSOLE_IDLE_MINUTES` without a request and `CONSOLE_SESSION_HOURS` after the login, whatever
the cookie says. Failed logins are limited per e-mail and per address (bot.people.login_limits). Every
POST carries a CSRF token (Flask-WTF's CSRFProtect, set up in webhooks.extensions).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from bot.config import Settings
from bot.models import User
from bot.people import accounts
from bot.people.roles import ROLE_LABELS, Permission, can
from webhooks.extensions import console, db

bp = Blueprint("auth", __name__)

WRONG_LOGIN = "E-mail ou senha incorretos. Confira e tente de novo."
TOO_MANY = "Muitas tentativas de entrada sem sucesso. Aguarde alguns minutos e tente de novo."
EXPIRED = "Sua sessão expirou. Entre novamente, por favor."


class Person:
    """The logged-in person as Flask-Login sees them; `user` is the row, in this request's session."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return self.user.session_token

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.user.role]

    def can(self, permission: str) -> bool:
        """For templates: `current_user.can("assign")`."""
        return can(self.user, Permission(permission))


def _load(token: str) -> Person | None:
    user = accounts.by_session_token(db.session(), token)
    return Person(user) if user is not None else None


# Requests a page makes by itself (the conversation page's polling, the serving page's swap progress):
# they are not a person's activity, so they do not keep an idle session alive.
AUTOMATIC_ENDPOINTS = frozenset(
    {"conversation.updates", "console.news", "console.queue_rows", "nlu_serving.progress"}
)


def _expired(settings: Settings, now: float) -> bool:
    login_at, seen_at = session.get("login_at", 0), session.get("seen_at", 0)
    return (
        now - login_at > settings.console_session_hours * 3600
        or now - seen_at > settings.console_idle_minutes * 60
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Set up Flask-Login for `app` and the server-side session expiry."""
    manager = console.login_manager
    manager.user_loader(_load)
    manager.login_view = "auth.login"
    manager.login_message = "Entre para acessar o console, por favor."
    manager.login_message_category = "info"
    manager.session_protection = "basic"  # "strong" would log out a phone whenever its network changes

    @app.before_request
    def expire_sessions() -> Response | None:
        if "_user_id" not in session or request.endpoint == "static":
            return None
        now = time.time()
        if _expired(settings, now):
            logout_user()
            session.clear()
            flash(EXPIRED, "info")
            return redirect(url_for("auth.login"))
        if request.endpoint not in AUTOMATIC_ENDPOINTS:
            session["seen_at"] = now
        return None


def _safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only (never another host)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("console.queue")


def _login_page(status: int = 200, email: str = "", **context: Any):  # type: ignore[no-untyped-def]
    return render_template("login.html", email=email, next=request.args.get("next", ""), **context), status


@bp.get("/")
def login():  # type: ignore[no-untyped-def]
    """The login page; a logged-in person goes straight to the console."""
    if current_user.is_authenticated:
        return redirect(url_for("console.queue"))
    return _login_page()


@bp.post("/")
def login_post():  # type: ignore[no-untyped-def]
    """Check the e-mail and password (within the rate limits) and open a session."""
    email = (request.form.get("email") or "").strip()[:254]
    password = request.form.get("password") or ""
    address = request.remote_addr or "-"
    limiter = console.login_limiter()
    if not limiter.allowed(email, address):
        return _login_page(429, email, error=TOO_MANY)
    data = db.session()
    user = accounts.authenticate(data, email, password) if email and password else None
    data.commit()  # the audit row of a failed attempt is kept too
    if user is None:
        limiter.failed(email, address)
        return _login_page(401, email, error=WRONG_LOGIN)
    session.clear()  # a new session for the new login (no fixation)
    login_user(Person(user))
    session.permanent = True
    session["login_at"] = session["seen_at"] = time.time()
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session (a POST with the CSRF token: a link could be followed by anyone's page)."""
    data = db.session()
    accounts.logged_out(data, current_user.user)
    data.commit()
    logout_user()
    session.clear()
    flash("Você saiu do console. Até logo!", "info")
    return redirect(url_for("auth.login"))
