"""The agent console (issue 16): `/console/` is the queue of conversations waiting for a person.

Views stay thin: check who is asking, parse the form or query string, make one service call
(bot.console), render or redirect. Permissions are decided in bot.people.roles only.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from bot.console import assignments, duty, notifications
from bot.console import queue as queue_lib
from bot.localtime import local_datetime
from bot.models import User, utcnow
from bot.people import accounts
from bot.people.roles import NotAllowed, Permission, can, require
from webhooks.console_views import refused, viewer
from webhooks.extensions import db, settings

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.app_template_filter("local_time")
def local_time(moment: datetime | None) -> str:
    """A moment as Brasília wall-clock time, "06/12 14:05"."""
    return local_datetime(moment).strftime("%d/%m %H:%M") if moment else "-"


@bp.app_template_filter("waited")
def waited(seconds: int) -> str:
    """A waiting time in short pt-BR: "agora", "8 min", "2 h 05 min", "3 dias"."""
    minutes = seconds // 60
    if minutes < 1:
        return "agora"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{hours // 24} dias"


@bp.app_context_processor
def notifier() -> dict[str, str]:
    """The moment a console page was drawn: its alerts start from there (bot.console.notifications)."""
    return {"drawn_at": utcnow().isoformat()}


def _queue_page(template: str):  # type: ignore[no-untyped-def]
    me = viewer()
    wanted = queue_lib.QueueFilter.parse(request.args.get("reason"), request.args.get("scope"))
    session = db.session()
    now = utcnow()
    found = queue_lib.load(session, me, wanted, now)
    assignable = [p for p in accounts.everyone(session) if p.active] if can(me, Permission.ASSIGN) else []
    closed = duty.off_duty(settings(), now)
    return render_template(
        template, queue=found, wanted=wanted, me=me, assignable=assignable, off_duty=closed
    )


@bp.get("/")
@login_required
def queue():  # type: ignore[no-untyped-def]
    """The conversations waiting for a person that the viewer may see, oldest first."""
    return _queue_page("console/queue.html")


@bp.get("/fila")
@login_required
def queue_rows():  # type: ignore[no-untyped-def]
    """The queue's live part alone (an HTML fragment): the page polls it and swaps it in when it changed."""
    return _queue_page("console/_queue_rows.html")


@bp.get("/novidades")
@login_required
def news():  # type: ignore[no-untyped-def]
    """What is new for the viewer since `since` (a moment from the previous answer): JSON for the alerts."""
    me = viewer()
    now = utcnow()
    found = notifications.since(
        db.session(), me, notifications.read_cursor(request.args.get("since"), now), now
    )
    return jsonify(
        conversations=found.conversations,
        messages=[{"id": m, "conversation": c} for m, c in found.messages],
        waiting=found.waiting,
        since=found.cursor.isoformat(),
    )


def _back() -> str:
    """Back to the queue with the filters the form came from."""
    args = {k: v for k in ("reason", "scope") if (v := request.form.get(k))}
    return url_for("console.queue", **args)


@bp.post("/conversations/<int:conversation_id>/take")
@login_required
def take(conversation_id: int):  # type: ignore[no-untyped-def]
    """The viewer takes the conversation."""
    me = viewer()
    session = db.session()
    try:
        assignments.take(session, conversation_id, me)
    except (assignments.AssignmentError, NotAllowed) as error:
        return refused(error, _back())
    session.commit()
    flash(f"Conversa {conversation_id} assumida por você.", "success")
    return redirect(_back())


@bp.post("/conversations/<int:conversation_id>/assign")
@login_required
def assign(conversation_id: int):  # type: ignore[no-untyped-def]
    """A supervisor gives the conversation to someone."""
    me = viewer()
    require(me, Permission.ASSIGN)
    session = db.session()
    assignee = session.get(User, request.form.get("user_id", type=int) or 0)
    if assignee is None:
        abort(400)
    try:
        assignments.assign(session, conversation_id, assignee, me)
    except (assignments.AssignmentError, NotAllowed) as error:
        return refused(error, _back())
    session.commit()
    flash(f"Conversa {conversation_id} atribuída a {assignee.name}.", "success")
    return redirect(_back())
