"""Candidate NLU models in the console (issue 17 §4–§5): `/console/nlu/modelos` lists the candidates with
their training progress (the page reloads itself while one trains), a button that asks for a new
training (an RQ job on the `nlu` queue: never trained in the web process), each candidate's metrics
against the current model, its confusion matrix, the messages whose prediction changed, the quality
gate's verdict, the override form for supervisors, and "Promover" for a candidate the gate passed (or a
supervisor let through): the swap is claimed here and carried out by a job on the `nlu` queue
(bot.nlu_serving.jobs), whose progress `/console/nlu/servindo` shows. Thin views: check, parse, one call in
bot.nlu_ops, render or redirect.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from bot.models import CandidateStatus
from bot.nlu_ops import candidates, evaluation, gate, trainer
from bot.nlu_serving import jobs, state
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, can
from webhooks.console_nlu_serving import QUEUED, deployer
from webhooks.console_views import nlu_person, refused
from webhooks.extensions import db, redis_ext

bp = Blueprint("nlu_models", __name__, url_prefix="/console/nlu/modelos")


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The candidates, newest first, and the chosen one's evaluation and gate verdict."""
    me = nlu_person()
    session = db.session()
    rows = candidates.listing(session)
    chosen = next((r for r in rows if str(r.id) == request.args.get("modelo")), rows[0] if rows else None)
    verdict = gate.verdict(session, chosen.model_file) if chosen is not None else None
    session.commit()  # the sweep's and the verdict's updates
    return render_template(
        "console/nlu_models.html",
        rows=rows,
        chosen=chosen,
        verdict=verdict,
        training=any(r.status == CandidateStatus.TRAINING for r in rows),
        stage=candidates.stage_label,
        critical=gate.CRITICAL_INTENTS,
        may_override=can(me, Permission.OVERRIDE_GATE),
        may_deploy=can(me, Permission.NLU_DEPLOY),
        serving=state.serving(session),
    )


@bp.post("/treinar")
@login_required
def train() -> Response:
    """Ask for a new candidate: registered, then its training queued for the `nlu` worker."""
    me = nlu_person()
    try:
        row = trainer.request(db.session(), me, redis_ext.client())
    except (candidates.AlreadyTraining, trainer.NotQueued, NotAllowed) as error:
        return refused(error, url_for("nlu_models.index"))
    flash("Treinamento pedido. Esta página mostra o andamento.", "success")
    return redirect(url_for("nlu_models.index", modelo=row.id))


@bp.get("/<int:candidate_id>/matriz.png")
@login_required
def confusion_matrix(candidate_id: int) -> Response:
    """The confusion matrix Rasa drew for the candidate on the test split."""
    nlu_person()
    row = candidates.find(db.session(), candidate_id)
    if row is None:
        abort(404)
    path = candidates.artefacts_dir(row) / "candidate" / evaluation.CONFUSION_MATRIX
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png", max_age=0)


@bp.post("/<int:candidate_id>/liberar")
@login_required
def override(candidate_id: int) -> Response:
    """A supervisor lets a candidate the gate refused through, with a written reason."""
    me = nlu_person()
    session = db.session()
    back = url_for("nlu_models.index", modelo=candidate_id)
    row = candidates.find(session, candidate_id)
    if row is None:
        abort(404)
    try:
        gate.override(session, row.model_file, me, request.form.get("reason", ""))
    except (gate.GateError, NotAllowed) as error:
        return refused(error, back)
    session.commit()
    flash("Candidato liberado; o motivo ficou registrado na auditoria.", "success")
    return redirect(back)


@bp.post("/<int:candidate_id>/promover")
@login_required
def promote(candidate_id: int) -> Response:
    """Put the candidate in front of debtors: the swap is claimed now and run by the `nlu` worker."""
    session = db.session()
    row = candidates.find(session, candidate_id)
    if row is None:
        abort(404)
    try:
        me = deployer()
        jobs.request_promote(
            session, db.database(), redis_ext.client(), candidates.model_path(row), accounts.actor(me)
        )
    except (gate.GateError, state.SwapRefused, jobs.NotQueued, NotAllowed) as error:
        return refused(error, url_for("nlu_models.index", modelo=candidate_id))
    flash(QUEUED, "success")
    return redirect(url_for("nlu_serving.index"))
