"""People for console tests: accounts made through the real service (argon2 hashes included), and logging
one in with Flask's test client."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from bot.db import Database
from bot.models import UserRole
from bot.people import accounts

PASSWORD = "correto-cavalo-bateria-grampo"


def make_user(
    db: Database, role: str = "agent", email: str = "ana@regua.example", name: str = "Ana Souza"
) -> int:
    """Add an active person with `PASSWORD` and return their id."""
    with db.session() as s:
        return accounts.add(s, email=email, name=name, role=UserRole(role), password=PASSWORD, by="test").id


def form_field(html: str, name: str) -> str:
    """The value of the first hidden field `name` on the page."""
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(client: FlaskClient, email: str) -> None:
    """Log `email` in (password `PASSWORD`) through the login form."""
    token = form_field(client.get("/").get_data(as_text=True), "csrf_token")
    response = client.post("/", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert response.status_code == 302
