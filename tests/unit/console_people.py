"""People for console tests: accounts made through the real service (argon2 hashes included), the moments
the composer's tests write at, saving an agent's draft as the conversation page does, and the login form
and its hidden fields as a browser fills them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask.testing import FlaskClient

from bot.config import Settings
from bot.console import composer
from bot.db import Database
from bot.models import User, UserRole
from bot.people import accounts

PASSWORD = "correto-cavalo-bateria-grampo"
# A Wednesday at noon in São Paulo (inside the legal contact window), and a Sunday night (outside it).
WEEKDAY_NOON = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
SUNDAY_NIGHT = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


def make_user(
    db: Database, role: str = "agent", email: str = "ana@regua.example", name: str = "Ana Souza"
) -> int:
    """Add an active person with `PASSWORD` and return their id."""
    with db.session() as s:
        return accounts.add(s, email=email, name=name, role=UserRole(role), password=PASSWORD, by="test").id


def detached_user(db: Database, role: str, email: str) -> User:
    """`make_user`, returned as a `User` usable outside a session (services take a person)."""
    user_id = make_user(db, role, email)
    with db.session() as s:
        user = s.get_one(User, user_id)
        s.expunge(user)
        return user


def save_draft(
    db: Database, settings: Settings, conversation_id: int, user_id: int, draft: composer.Draft, now: datetime
) -> composer.Saved:
    """`composer.save` of `draft` by the person `user_id` at `now`, committed."""
    with db.session() as s:
        saved = composer.save(s, settings, conversation_id, s.get_one(User, user_id), draft, now)
        s.flush()
        return saved


def form_field(html: str, name: str) -> str:
    """The value of the hidden field `name` in a page (the CSRF token, a form's nonce)."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(client: FlaskClient, email: str) -> None:
    """Log `email` (made with `make_user`) in through the login form."""
    token = form_field(client.get("/").get_data(as_text=True), "csrf_token")
    response = client.post("/", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert response.status_code == 302
