"""The results dashboard for supervisors: `/console/resultados` (KPI cards, funnel, recovery over time,
tables, experiments) and each table as CSV. Thin views: check the permission (bot.people.roles), parse
the GET form (bot.reports.query), one call (bot.reports.results.build), render. The numbers come from the
precomputed aggregates, as fresh as their last hourly refresh (the page says when).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as Redirect

from bot.analytics import Prices
from bot.experiments import ExperimentError, declare_winner
from bot.localtime import local_datetime
from bot.models import User, utcnow
from bot.people.accounts import actor
from bot.people.roles import NotAllowed, Permission, require
from bot.reports import charts, csv_export, experiments, query, results
from webhooks.console_views import refused
from webhooks.extensions import db, settings

bp = Blueprint("results", __name__, url_prefix="/console/resultados")


def _supervisor() -> User:
    user: User = current_user.user
    require(user, Permission.SEE_RESULTS)
    return user


def _report(asked: query.ReportQuery) -> results.Report:
    return results.build(db.session(), asked, Prices.from_settings(settings()))


def _asked() -> query.ReportQuery:
    return query.parse(request.args.get("de"), request.args.get("ate"), request.args.get("credor"), utcnow())


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """The dashboard of the period and creditor in the query string (defaults: this month, everyone)."""
    _supervisor()
    experiments.warm_up()
    error = None
    try:
        asked = _asked()
    except query.BadQuery as bad:
        error, asked = str(bad), query.ReportQuery(query.default_period(utcnow()))
    report = _report(asked)
    return render_template(
        "console/results.html",
        report=report,
        error=error,
        creditors=results.creditor_names(db.session()),
        refreshed=local_datetime(report.refreshed_at).strftime("%d/%m/%Y às %H:%M")
        if report.refreshed_at
        else None,
        funnel_chart=charts.funnel_svg(report.funnel),
        step_chart=charts.series_svg(report.by_step, "by-step", "Valor recuperado por dia e passo"),
        channel_chart=charts.series_svg(report.by_channel, "by-channel", "Valor recuperado por dia e canal"),
        args={k: v for k in ("de", "ate", "credor") if (v := request.args.get(k))},
    ), (400 if error else 200)


@bp.get("/<key>.csv")
@login_required
def export(key: str):  # type: ignore[no-untyped-def]
    """One table of the dashboard as CSV (`;`, UTF-8 with BOM, formula-safe: bot.reports.csv_export)."""
    _supervisor()
    try:
        asked = _asked()
    except query.BadQuery as bad:
        abort(400, str(bad))
    table = _report(asked).table(key)
    if table is None:
        abort(404)
    period = asked.period
    name = f"resultados-{table.key}-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.csv"
    return Response(
        csv_export.to_csv(table.headers, table.rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/experimentos/<int:creditor_id>/<step_id>/vencedora")
@login_required
def declare(creditor_id: int, step_id: str) -> Redirect:
    """Declare the winning variant of a step's experiment (bot.experiments.declare_winner: the creditor's
    cadence rewritten, validated and audited), once the person confirmed it."""
    form = request.form
    back = (
        url_for("results.index", credor=creditor_id, de=form.get("de"), ate=form.get("ate")) + "#experimentos"
    )
    variant = form.get("variant", "")
    try:
        user: User = current_user.user
        require(user, Permission.DECLARE_WINNER)
        if form.get("confirm") != "1":
            raise ExperimentError("confirme que a régua do credor passará a usar só a variante vencedora")
        declare_winner(db.session(), creditor_id, step_id, variant or None, actor(user))
    except ExperimentError as error:
        return refused(ExperimentError(f"Não foi possível declarar a vencedora: {error}."), back)
    except NotAllowed as error:
        return refused(error, back)
    db.session().commit()
    flash(
        f"A variante {variant} venceu no passo {step_id}: a régua do credor passa a usar só ela.", "success"
    )
    return redirect(back)
