"""Which NLU model answers debtors, in the console (issue 17 §6): `/console/nlu/servindo` shows the serving
state, the swap in progress with its stage (polled by nlu-swap.js; without JavaScript the page refreshes
itself while a swap runs) and the deployment history, with a rollback button on every row. A rollback to
the model the spare Rasa slot still runs is instant (done in the request); any other rollback, like a
promote (asked for on `/console/nlu/modelos`), is a background job on the `nlu` queue
(bot.nlu_serving.jobs): the web process never loads a model. Thin views: check, parse, one call in
bot.nlu_serving, render or redirect."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from bot.models import User
from bot.nlu_serving import jobs, state, swap
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, require
from webhooks.console_views import refused
from webhooks.extensions import db, redis_ext, settings

bp = Blueprint("nlu_serving", __name__, url_prefix="/console/nlu/servindo")

QUEUED = "Troca pedida: ela roda em segundo plano e esta página mostra o andamento."


def deployer() -> User:
    """The logged-in person, who must be allowed to promote and roll back models."""
    user: User = current_user.user
    require(user, Permission.NLU_DEPLOY)
    return user


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The serving state, the swap in progress and the latest deployments."""
    deployer()
    jobs.release_dead(db.database(), redis_ext.client())
    session = db.session()
    serving, history = state.serving(session), state.history(session)
    current = jobs.progress(serving, redis_ext.client())
    actors = [d.actor for d in history] + [current.actor if current else None]
    return render_template(
        "console/nlu_serving.html",
        serving=serving,
        progress=current,
        history=history,
        name=state.model_name,
        who=accounts.actor_names(session, actors),
    )


@bp.get("/andamento")
@login_required
def progress() -> Response:
    """The swap in progress, for the page's polling: {"swapping": bool, "stage": label}."""
    deployer()
    jobs.release_dead(db.database(), redis_ext.client())
    session = db.session()
    current = jobs.progress(state.serving(session), redis_ext.client())
    session.commit()
    if current is None:
        return jsonify(swapping=False)
    return jsonify(swapping=True, stage=current.stage, label=current.label, model=current.model)


@bp.post("/voltar")
@login_required
def rollback() -> Response:
    """Serve the model the form names (one of the history's) again: at once, or as a background job."""
    back = url_for("nlu_serving.index")
    try:
        me = deployer()
        done = jobs.request_rollback(
            settings(),
            db.database(),
            redis_ext.client(),
            accounts.actor(me),
            request.form.get("model") or None,
        )
    except (state.SwapRefused, swap.SwapFailed, jobs.NotQueued, NotAllowed) as error:
        return refused(error, back)
    if isinstance(done, swap.Outcome):
        flash(f"{state.model_name(done.model_file)} voltou a responder aos devedores.", "success")
    else:
        flash(QUEUED, "success")
    return redirect(back)
