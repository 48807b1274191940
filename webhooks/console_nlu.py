"""The NLU inbox in the console (issue 17 §2, §3): `/console/nlu` lists the messages the bot did not
understand well, grouped by similar masked text, with ops' actions on a group (or the messages ticked in
it) and the entities they mark on its masked text (the model's prediction by default; a refused
annotation comes back on the card with everything as it was sent), and what changed in the training
examples since the current model; and the conversation page's
"o robô não entendeu" button posts here. Thin views: check, parse, one call in bot.nlu_ops, render or
redirect.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from bot.nlu_ops import annotations, changes, examples, inbox, review
from bot.people.roles import NotAllowed
from webhooks.console_views import nlu_person, refused, viewer
from webhooks.extensions import db, settings

bp = Blueprint("nlu", __name__, url_prefix="/console/nlu")

_DONE = {"confirm": "confirmada(s)", "label": "rotulada(s)", "discard": "descartada(s)"}


@dataclass(frozen=True)
class Kept:
    """What a person sent for a group whose decision was refused, shown again as they left it."""

    key: str
    error: str
    intent: str
    messages: set[int]
    marks: list[tuple[str, str]]


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The inbox's groups, most frequent first, and the changes since the current model."""
    nlu_person()
    return _page(None)


def _page(kept: Kept | None, status: int = 200):  # type: ignore[no-untyped-def]
    session = db.session()
    groups = inbox.pending(session, settings().nlu_inbox_threshold)
    found = changes.since_model(changes.current_model(session, settings().models_dir))
    entities = examples.entities()
    # The form's entity rows: what the person sent (a refused decision), else what the model predicted.
    marks = {
        g.key: [(a.entity, a.value) for a in annotations.defaults(g.text, g.entities, entities)]
        for g in groups
    }
    if kept is not None:
        marks[kept.key] = kept.marks
    body = render_template(
        "console/nlu.html",
        groups=groups,
        reasons=inbox.REASONS,
        intents=examples.intents(),
        entities=entities,
        marks=marks,
        kept=kept,
        threshold=settings().nlu_inbox_threshold,
        changes=found,
    )
    return body, status


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
    intent = request.form.get("intent", "")
    pairs = list(zip(request.form.getlist("entity"), request.form.getlist("entity_value"), strict=False))
    try:
        if action == "discard":  # teaches nothing: its entity rows are not read
            decided = review.discard(session, ids, me)
        else:
            marks = review.Marks(annotations.from_pairs(pairs), examples.entities())
            if action == "confirm":
                decided = review.confirm(session, ids, me, marks)
            else:
                decided = review.relabel(session, ids, intent, me, intents=examples.intents(), marks=marks)
    except (review.ReviewError, annotations.AnnotationError) as error:
        # Shown on the group's card with everything the person chose, so nothing has to be redone.
        session.rollback()
        kept = Kept(key, str(error), intent, ticked, [(e.strip(), " ".join(v.split())) for e, v in pairs])
        return _page(kept, 422)
    except NotAllowed as error:
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
