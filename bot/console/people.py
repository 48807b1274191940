"""People management in the console (admins): list, add, change a role, disable or enable, reset a password.

Each function takes the admin doing it (`me`), checks `Permission.MANAGE_PEOPLE` in bot.people.roles and
calls bot.people.accounts, which audits the change under the admin. Two guards keep the console usable:
an admin cannot disable themself, and the last active admin cannot be disabled or given another role.
Errors are `AccountError` or `NotAllowed`, with pt-BR messages for the admin.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.models import User, UserRole
from bot.people import accounts
from bot.people.accounts import AccountError
from bot.people.roles import Permission, require

LAST_ADMIN = (
    "{name} é a última pessoa administradora ativa: cadastre ou reative outra antes, para que sempre haja "
    "alguém que possa gerenciar as pessoas."
)
NOT_YOURSELF = "Você não pode desativar o seu próprio acesso. Peça a outra pessoa administradora."


def everyone(session: Session, me: User) -> list[User]:
    """Every person, active first, then by name (admins only)."""
    require(me, Permission.MANAGE_PEOPLE)
    return accounts.everyone(session)


def add(session: Session, me: User, *, email: str, name: str, role: UserRole, password: str) -> User:
    """Add a person with an initial password (the same rules as `regua user add`)."""
    require(me, Permission.MANAGE_PEOPLE)
    return accounts.add(session, email=email, name=name, role=role, password=password, by=accounts.actor(me))


def _person(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("Pessoa não encontrada.")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """AccountError when `user` is the last active admin (who is about to stop being one)."""
    if user.active and user.role == UserRole.ADMIN and accounts.active_admins(session) <= 1:
        raise AccountError(LAST_ADMIN.format(name=user.name))


def change_role(session: Session, me: User, user_id: int, role: UserRole) -> User:
    """Give the person another role (never demoting the last active admin)."""
    require(me, Permission.MANAGE_PEOPLE)
    user = _person(session, user_id)
    if role != UserRole.ADMIN:
        _keep_an_admin(session, user)
    return accounts.change_role(session, user.email, role, by=accounts.actor(me))


def set_active(session: Session, me: User, user_id: int, active: bool) -> User:
    """Disable the person (their sessions end now) or let them log in again."""
    require(me, Permission.MANAGE_PEOPLE)
    user = _person(session, user_id)
    if active:
        return accounts.enable(session, user.email, by=accounts.actor(me))
    if user.id == me.id:
        raise AccountError(NOT_YOURSELF)
    _keep_an_admin(session, user)
    return accounts.disable(session, user.email, by=accounts.actor(me))


def reset_password(session: Session, me: User, user_id: int, password: str) -> User:
    """Give the person a new password (checked like a new one); their open sessions end now."""
    require(me, Permission.MANAGE_PEOPLE)
    user = _person(session, user_id)
    return accounts.reset_password(session, user.email, password, by=accounts.actor(me))
