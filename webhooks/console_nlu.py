"""The NLU inbox in the console (issue 17 §2, §3): `/console/nlu` lists the messages the bot did not
understand well, grouped by similar masked text, with ops' actions on a group (or the messages ticked in
it), and what changed in the training examples since the current model; and the conversation page's
"o robô não entendeu" button posts here. Thin views: check, parse, one call in bot.nlu_ops, render or
redirect.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from bot.nlu_ops import changes, examples, inbox, review
from bot.people.roles import NotAllowed
from webhooks.console_views import nlu_person, refused, viewer
from webhooks.extensions import db, settings

bp = Blueprint("nlu", __name__, url_prefix="/console/nlu")

_DONE = {"confirm": "confirmada(s)", "label": "rotulada(s)", "discard": "descartada(s)"}


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The inbox's groups, most frequent first, and the changes since the current model."""
    nlu_person()
    groups = inbox.pending(db.session(), settings().nlu_inbox_threshold)
    found = changes.since_model(changes.current_model(settings().models_dir))
    return render_template(
        "console/nlu.html",
        groups=groups,
        reasons=inbox.REASONS,
        intents=examples.intents(),
        threshold=settings().nlu_inbox_threshold,
        changes=found,
    )


@bp.post("/grupos/<key>")
@login_required
def decide(key: str) -> Response:
    """Confirm, relabel or discard a group: the messages ticked in it (all, by default)."""
    me = nlu_person()
    action = request.form.get("action", "")
    if action not in _DONE:
        abort(400)
    session = db.session()
    group = inbox.find_group(session, settings().nlu_inbox_threshold, key)
    if group is None:
        flash("Este grupo já foi decidido.", "error")
        return redirect(url_for("nlu.index"))
    ticked = {int(v) for v in request.form.getlist("message") if v.isdigit()}
    ids = [i.prediction_id for i in group.items if i.message_id in ticked]
    try:
        if action == "confirm":
            decided = review.confirm(session, ids, me)
        elif action == "discard":
            decided = review.discard(session, ids, me)
        else:
            intent = request.form.get("intent", "")
            decided = review.relabel(session, ids, intent, me, intents=examples.intents())
    except (review.ReviewError, NotAllowed) as error:
        return refused(error, url_for("nlu.index"))
    session.commit()
    flash(f"{decided} mensagem(ns) {_DONE[action]}.", "success")
    return redirect(url_for("nlu.index"))


@bp.post("/marcar/<int:message_id>")
@login_required
def flag(message_id: int) -> Response:
    """ "O robô não entendeu" on a debtor's message of the conversation page: to the NLU inbox."""
    me = viewer()
    session = db.session()
    back = request.form.get("conversation", type=int)
    page = url_for("conversation.show", conversation_id=back) if back else url_for("console.queue")
    try:
        review.flag(session, message_id, me)
    except (review.ReviewError, NotAllowed) as error:
        return refused(error, page)
    session.commit()
    flash("Obrigado! A mensagem foi para a caixa de entrada da NLU.", "success")
    return redirect(page)
