"""Cases in the console: `/console/casos` lists the open cases and resolves one (the console's
`regua cases`). Thin views: check, parse, one call in bot.console.cases, render or redirect.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from bot.console import cases
from bot.models import User
from bot.people.roles import NotAllowed, Permission, can, require
from webhooks.console_views import refused
from webhooks.extensions import db

bp = Blueprint("cases", __name__, url_prefix="/console/casos")


def _me() -> User:
    user: User = current_user.user
    require(user, Permission.CASES)
    return user


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The open cases, oldest first, each with its resolve form."""
    me = _me()
    return render_template("console/cases.html", cases=cases.open_rows(db.session(), me))


@bp.post("/<int:case_id>/resolver")
@login_required
def resolve(case_id: int) -> Response:
    """Close the case with a note; "retomar" resumes the collection (the CLI's `--resume`)."""
    me = _me()
    resume = request.form.get("resume") == "1"
    session = db.session()
    try:
        cases.resolve(session, me, case_id, note=request.form.get("note", ""), resume_collection=resume)
    except (cases.CaseError, NotAllowed) as error:
        return refused(error, url_for("cases.index"))
    session.commit()
    flash(f"Caso {case_id} encerrado{' e cobrança retomada' if resume else ''}.", "success")
    return redirect(url_for("cases.index"))


def _open_case_count() -> int:
    """For the console's navigation: how many cases are open (0 for someone who may not see them)."""
    if not can(current_user.user, Permission.CASES):
        return 0
    return cases.open_count(db.session())


def init_app(app: Flask) -> None:
    """Make `open_case_count()` callable from the console's templates (computed only where shown)."""
    app.jinja_env.globals["open_case_count"] = _open_case_count
