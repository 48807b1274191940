"""Which NLU model answers debtors, in the console (issue 17 §6): `/console/nlu/servindo` shows the serving
state and the deployment history, with a rollback button for the model the spare Rasa slot still runs
(instant: nothing to load inside a web request; other rollbacks and promotes are `regua nlu ...`). Thin
views: check, parse, one call in bot.nlu_serving, render or redirect."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from bot.nlu_serving import state, swap
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, require
from webhooks.console_views import refused
from webhooks.extensions import db, settings

bp = Blueprint("nlu_serving", __name__, url_prefix="/console/nlu/servindo")

# A rollback from the console only switches to a slot that already runs the model: a few seconds at most.
CONSOLE_SWAP_TIMEOUT = 10.0


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The serving state and the latest deployments."""
    require(current_user.user, Permission.NLU_DEPLOY)
    session = db.session()
    return render_template(
        "console/nlu_serving.html",
        serving=state.serving(session),
        history=state.history(session),
        name=state.model_name,
    )


@bp.post("/voltar")
@login_required
def rollback() -> Response:
    """Roll back to the model the spare slot runs (the form names it)."""
    back = url_for("nlu_serving.index")
    try:
        require(current_user.user, Permission.NLU_DEPLOY)
        outcome = swap.rollback(
            settings(),
            db.database(),
            accounts.actor(current_user.user),
            request.form.get("model") or None,
            instant_only=True,
            load_timeout=CONSOLE_SWAP_TIMEOUT,
        )
    except (state.SwapRefused, swap.SwapFailed, NotAllowed) as error:
        return refused(error, back)
    flash(f"{state.model_name(outcome.model_file)} voltou a responder aos devedores.", "success")
    return redirect(back)
