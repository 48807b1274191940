"""People for console tests: accounts made through the real service (argon2 hashes included)."""

from __future__ import annotations

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
