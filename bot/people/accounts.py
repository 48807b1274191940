"""People's accounts: add, list, disable and enable, change a role, reset a password, log in, and the audit
actor of a person.

Every change is audited (bot.audit) in the caller's transaction. Errors are `AccountError` with a pt-BR
message for the person at the terminal or the browser. Functions take a `Session` and never commit.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import audit
from bot.models import User, UserRole, utcnow
from bot.people import passwords

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(Exception):
    """A person could not be added, found or changed; the message is pt-BR."""


def actor(user: User) -> str:
    """The audit-log actor of `user`: "agent:<id>" (the id, never the e-mail: the log outlives names)."""
    return f"agent:{user.id}"


def actor_names(session: Session, actors: Iterable[str | None]) -> dict[str, str]:
    """The names of the people among audit `actors` ("agent:<id>" -> name), for the console; other actors
    ("cli:ana", "system") are not in it and are shown as they are."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a and re.fullmatch(r"agent:\d+", a)}
    people = session.execute(select(User.id, User.name).where(User.id.in_(ids))).all() if ids else []
    return {f"agent:{person_id}": name for person_id, name in people}


def normalize_email(email: str) -> str:
    """`email` trimmed and in lower case; AccountError when it does not look like an address."""
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise AccountError(f"e-mail inválido: {email!r}")
    return value


def _new_session_token() -> str:
    return secrets.token_urlsafe(32)


def check_password(password: str, *, email: str, name: str) -> None:
    """AccountError (pt-BR, naming what is wrong) when `password` is too weak for this person."""
    problem = passwords.weakness(password, email=email, name=name)
    if problem:
        raise AccountError(problem)


def add(session: Session, *, email: str, name: str, role: UserRole, password: str, by: str) -> User:
    """Add an active person; `by` is the audit actor ("cli", or an admin's `actor`)."""
    address = normalize_email(email)
    name = " ".join(name.split())
    if not name:
        raise AccountError("informe o nome da pessoa")
    if find(session, address) is not None:
        raise AccountError(f"já existe uma pessoa com o e-mail {address}")
    check_password(password, email=address, name=name)
    now = utcnow()
    user = User(
        email=address,
        name=name[:120],
        role=role,
        password_hash=passwords.hash_password(password),
        active=True,
        session_token=_new_session_token(),
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(session, by, "user.added", "user", user.id, role=role.value)
    return user


def find(session: Session, email: str) -> User | None:
    """The person with this e-mail (any case), active or not; None when there is none."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def active_user(session: Session, email: str) -> User:
    """The active person with this e-mail; AccountError when unknown or disabled (for `--user`)."""
    user = find(session, email)
    if user is None:
        raise AccountError(f"nenhuma pessoa cadastrada com o e-mail {email.strip().lower()}")
    if not user.active:
        raise AccountError(f"o acesso de {user.email} está desativado")
    return user


def by_session_token(session: Session, token: str) -> User | None:
    """The active person whose login session carries `token` (None: logged out, reset or disabled)."""
    if not token:
        return None
    return session.scalar(select(User).where(User.session_token == token, User.active.is_(True)))


def everyone(session: Session) -> list[User]:
    """Every person, active first, then by name."""
    return list(session.scalars(select(User).order_by(User.active.desc(), func.lower(User.name), User.id)))


def disable(session: Session, email: str, *, by: str) -> User:
    """Disable the person: they can no longer log in, and their open sessions end now."""
    user = find(session, email)
    if user is None:
        raise AccountError(f"nenhuma pessoa cadastrada com o e-mail {email.strip().lower()}")
    if user.active:
        user.active = False
        user.session_token = _new_session_token()
        audit.record(session, by, "user.disabled", "user", user.id)
    return user


def enable(session: Session, email: str, *, by: str) -> User:
    """Let a disabled person log in again (with their current password)."""
    user = _known(session, email)
    if not user.active:
        user.active = True
        audit.record(session, by, "user.enabled", "user", user.id)
    return user


def change_role(session: Session, email: str, role: UserRole, *, by: str) -> User:
    """Give the person another role; their open sessions carry on with the new permissions."""
    user = _known(session, email)
    if user.role != role:
        before = UserRole(user.role).value
        user.role = role
        audit.record(session, by, "user.role_changed", "user", user.id, before=before, role=role.value)
    return user


def active_admins(session: Session) -> int:
    """How many active admins there are (the last one may not be disabled or demoted)."""
    query = select(func.count(User.id)).where(User.role == UserRole.ADMIN, User.active.is_(True))
    return session.scalar(query) or 0


def _known(session: Session, email: str) -> User:
    user = find(session, email)
    if user is None:
        raise AccountError(f"nenhuma pessoa cadastrada com o e-mail {email.strip().lower()}")
    return user


def reset_password(session: Session, email: str, password: str, *, by: str) -> User:
    """Give the person a new password (checked like a new one); their open sessions end now."""
    user = find(session, email)
    if user is None:
        raise AccountError(f"nenhuma pessoa cadastrada com o e-mail {email.strip().lower()}")
    check_password(password, email=user.email, name=user.name)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    user.session_token = _new_session_token()
    audit.record(session, by, "user.password_reset", "user", user.id)
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active person with this e-mail and password, with the login recorded; None otherwise (the
    same None, in about the same time, for an unknown e-mail, a wrong password and a disabled person)."""
    user = find(session, email)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        if user is not None:
            audit.record(session, actor(user), "user.login_failed", "user", user.id)
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    audit.record(session, actor(user), "user.logged_in", "user", user.id)
    return user


def logged_out(session: Session, user: User) -> None:
    """Record that the person logged out."""
    audit.record(session, actor(user), "user.logged_out", "user", user.id)
