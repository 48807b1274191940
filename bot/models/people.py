"""The people who use the console: agents, supervisors and admins (issue 16)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, true
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, TimestampMixin, UTCDateTime, str_enum
from bot.models.enums import UserRole


class User(TimestampMixin, Base):
    """A person with a console login. Never deleted (the audit log names them): disabled instead."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Stored in lower case (bot.people.accounts normalises it), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role"))
    # argon2id, in the encoded form argon2-cffi writes (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # What the login session stores (Flask-Login's "alternative id"): a new one on every password reset
    # and on disabling, so every open session of that person ends at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
