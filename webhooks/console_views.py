"""What every console view shares: who is asking, and answering a refused action."""

from __future__ import annotations

from flask import flash, redirect
from flask_login import current_user
from werkzeug.wrappers import Response

from bot.models import User
from bot.people.roles import Permission, require
from webhooks.extensions import db


def viewer() -> User:
    """The logged-in person, who must be allowed to use the console (bot.people.roles decides)."""
    user: User = current_user.user
    require(user, Permission.USE_CONSOLE)
    return user


def nlu_person() -> User:
    """The logged-in person, who must be allowed to work on the NLU (the inbox, candidate models)."""
    user: User = current_user.user
    require(user, Permission.NLU_INBOX)
    return user


def refused(error: Exception, back: str) -> Response:
    """A service refused the action: undo the transaction, say why (pt-BR, from the service), go back."""
    db.session().rollback()
    flash(str(error), "error")
    return redirect(back)
