"""People management in the console for admins: `/console/pessoas` (list, add, role, disable/enable,
reset a password). Thin views: check, parse the form, one call in bot.console.people, redirect with a
pt-BR message. Permissions are decided in bot.people.roles only.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from bot.console import people
from bot.models import User, UserRole
from bot.people.accounts import AccountError
from bot.people.passwords import MIN_LENGTH
from bot.people.roles import ROLE_LABELS, NotAllowed, Permission, parse_role, require
from webhooks.console_views import refused
from webhooks.extensions import db

bp = Blueprint("people", __name__, url_prefix="/console/pessoas")


def _admin() -> User:
    user: User = current_user.user
    require(user, Permission.MANAGE_PEOPLE)
    return user


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Everyone, with the forms to add a person and change each one."""
    me = _admin()
    everyone = people.everyone(db.session(), me)
    return render_template(
        "console/people.html", people=everyone, me=me, roles=ROLE_LABELS, min_length=MIN_LENGTH
    )


def _apply(change: Callable[[], User], done: str) -> Response:
    """Run `change`, commit and flash `done` (formatted with the person's name), or flash the error."""
    session = db.session()
    try:
        user = change()
    except (AccountError, NotAllowed, ValueError) as error:
        return refused(error, url_for("people.index"))
    session.commit()
    flash(done.format(name=user.name), "success")
    return redirect(url_for("people.index"))


def _role() -> UserRole:
    return parse_role(request.form.get("role", ""))


@bp.post("/")
@login_required
def add() -> Response:
    """Add a person with an initial password."""
    me = _admin()
    form = request.form
    return _apply(
        lambda: people.add(
            db.session(),
            me,
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=_role(),
            password=form.get("password", ""),
        ),
        "{name} foi cadastrado(a). Entregue a senha inicial por um canal seguro.",
    )


@bp.post("/<int:user_id>/papel")
@login_required
def role(user_id: int) -> Response:
    """Change the person's role."""
    me = _admin()
    return _apply(lambda: people.change_role(db.session(), me, user_id, _role()), "Papel de {name} alterado.")


@bp.post("/<int:user_id>/acesso")
@login_required
def access(user_id: int) -> Response:
    """Disable the person (`active=0`) or let them in again (`active=1`)."""
    me = _admin()
    active = request.form.get("active") == "1"
    done = "Acesso de {name} reativado." if active else "Acesso de {name} desativado."
    return _apply(lambda: people.set_active(db.session(), me, user_id, active), done)


@bp.post("/<int:user_id>/senha")
@login_required
def password(user_id: int) -> Response:
    """Give the person a new password (their open sessions end)."""
    me = _admin()
    new = request.form.get("password", "")
    return _apply(
        lambda: people.reset_password(db.session(), me, user_id, new),
        "Senha de {name} redefinida. As sessões abertas dessa pessoa foram encerradas.",
    )
