"""The conversation page of the agent console (issue 16 §3, §4, §6): `/console/conversas/<id>`.

The thread, live (the page polls `novas?after=<last id>` every second and gets an HTML fragment; see
docs/agents.md on why polling rather than Server-Sent Events), the internal notes, the composer, a failed
message's retry, and "Devolver ao robô". Views stay thin: parse, one service call (bot.console), commit,
then deliver (after the commit, like every sender), render or redirect.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from bot.console import assignments, card, composer, giveback, replies, sms_alternative
from bot.console import thread as thread_lib
from bot.localtime import local_date
from bot.models import utcnow
from bot.people.roles import NotAllowed
from bot.reminders.rendering import RenderError
from webhooks.console_views import refused, viewer
from webhooks.extensions import conversations, db, settings

bp = Blueprint("conversation", __name__, url_prefix="/console/conversas")


def _page(conversation_id: int) -> str:
    return url_for("conversation.show", conversation_id=conversation_id)


def _own_prefix() -> str:
    return f"{settings().public_base_url}/m/"


def _canned(values: dict[str, str]) -> list[tuple[str, str]]:
    """The canned replies that can be filled for this debtor: (title, text)."""
    found = []
    for reply in replies.canned_replies():
        try:
            found.append((reply.title, replies.fill(reply.text, values)))
        except RenderError:  # a number without a debtor: nothing to fill {nome} with
            continue
    return found


@bp.get("/<int:conversation_id>")
@login_required
def show(conversation_id: int):  # type: ignore[no-untyped-def]
    """The whole thread, the notes and (for who may act) the composer; with `?before=<message id>` (the
    "Carregar mensagens anteriores" link without JavaScript) the messages before that one, to read."""
    me = viewer()
    session = db.session()
    before = request.args.get("before", type=int)
    try:
        thread = thread_lib.load(session, me, conversation_id, own_prefix=_own_prefix(), before=before)
    except (thread_lib.ThreadError, NotAllowed) as error:
        flash(str(error), "error")
        return redirect(url_for("console.queue"))
    now = utcnow()
    rules = composer.rules(session, settings(), thread.conversation, now)
    values = replies.values(session, settings(), thread.conversation, local_date(now), with_link=False)
    previews = []
    for choice in rules.templates:
        try:
            previews.append((choice, choice.preview(values)))
        except RenderError:
            continue
    return render_template(
        "console/conversation.html",
        thread=thread,
        card=card.load(session, me, thread.conversation, now),
        rules=rules,
        canned=_canned(values),
        templates=previews,
        sms_preview=sms_alternative.preview(settings(), values) if rules.sms else None,
        nonce=secrets.token_urlsafe(24),
        me=me,
        older_page=before is not None,
    )


@bp.get("/<int:conversation_id>/anteriores")
@login_required
def older(conversation_id: int):  # type: ignore[no-untyped-def]
    """The `PAGE_SIZE` messages before `before` (and the notes of that stretch): an HTML fragment to put
    at the top of the thread, and the id to ask from next time (null when there is nothing older)."""
    me = viewer()
    before = request.args.get("before", type=int) or 0
    try:
        thread = thread_lib.load(db.session(), me, conversation_id, own_prefix=_own_prefix(), before=before)
    except (thread_lib.ThreadError, NotAllowed) as error:
        return jsonify(error=str(error)), 403
    html = render_template("console/_items.html", items=thread.items, thread=thread)
    return jsonify(html=html, before=thread.older_than)


@bp.get("/<int:conversation_id>/novas")
@login_required
def updates(conversation_id: int):  # type: ignore[no-untyped-def]
    """What is new since `after` (message id) and `notes_after` (note id): an HTML fragment to append, the
    statuses that changed, and the ids to ask from next time."""
    me = viewer()
    session = db.session()
    after = request.args.get("after", type=int) or 0
    notes_after = request.args.get("notes_after", type=int) or 0
    try:
        thread = thread_lib.load(
            session, me, conversation_id, own_prefix=_own_prefix(), after=after, notes_after=notes_after
        )
    except (thread_lib.ThreadError, NotAllowed) as error:
        return jsonify(error=str(error)), 403
    html = render_template("console/_items.html", items=thread.items, thread=thread)
    statuses = {
        str(item.id): render_template("console/_status.html", item=item, thread=thread)
        for item in thread.statuses
    }
    return jsonify(
        html=html,
        statuses=statuses,
        after=thread.last_message_id,
        notes_after=thread.last_note_id,
        state=thread.conversation.state.value,
        owner=thread.owner_id,
    )


def _deliver(conversation_id: int) -> None:
    composer.deliver_now(conversations.services(), conversation_id)


def _draft(prefix: str = "") -> composer.Draft:
    form = request.form
    return composer.Draft(
        nonce=form.get("nonce", ""),
        text=form.get(f"{prefix}text", ""),
        content_sid=form.get("content_sid") or None,
        via_sms=form.get("via") == "sms",
        confirmed=form.get("confirm") == "1",
        seen_message_id=form.get("seen", type=int),
    )


@bp.post("/<int:conversation_id>/enviar")
@login_required
def send(conversation_id: int):  # type: ignore[no-untyped-def]
    """Send the agent's message (free text, a template, or outside WhatsApp's window an SMS); the same
    form twice sends it once."""
    me = viewer()
    session = db.session()
    try:
        saved = composer.save(session, settings(), conversation_id, me, _draft())
    except (composer.ComposeError, NotAllowed) as error:
        return refused(error, _page(conversation_id))
    session.commit()
    if not saved.duplicate:
        _deliver(saved.message.conversation_id)  # an SMS goes in the debtor's SMS conversation
    return redirect(_page(conversation_id) + "#fim")


@bp.post("/<int:conversation_id>/reenviar/<int:message_id>")
@login_required
def retry(conversation_id: int, message_id: int):  # type: ignore[no-untyped-def]
    """Send a failed message again (once, however often the button is pressed)."""
    me = viewer()
    session = db.session()
    try:
        saved = composer.retry(session, settings(), conversation_id, message_id, me)
    except (composer.ComposeError, NotAllowed) as error:
        return refused(error, _page(conversation_id))
    session.commit()
    if not saved.duplicate:
        _deliver(saved.message.conversation_id)  # an SMS goes in the debtor's SMS conversation
        flash("Mensagem reenviada.", "success")
    return redirect(_page(conversation_id) + "#fim")


@bp.post("/<int:conversation_id>/notas")
@login_required
def note(conversation_id: int):  # type: ignore[no-untyped-def]
    """Add an internal note (never sent to the debtor)."""
    me = viewer()
    session = db.session()
    try:
        thread_lib.add_note(session, conversation_id, me, request.form.get("note", ""))
    except (thread_lib.ThreadError, NotAllowed) as error:
        return refused(error, _page(conversation_id))
    session.commit()
    return redirect(_page(conversation_id) + "#fim")


@bp.post("/<int:conversation_id>/assumir")
@login_required
def take(conversation_id: int):  # type: ignore[no-untyped-def]
    """Take the conversation from its page; Rasa's tracker is paused (best effort: while a person has it
    the engine never asks Rasa anyway)."""
    me = viewer()
    session = db.session()
    try:
        assignments.take(session, conversation_id, me)
    except (assignments.AssignmentError, NotAllowed) as error:
        return refused(error, _page(conversation_id))
    session.commit()
    giveback.tell_rasa(conversations.services().rasa, conversation_id, "pause")
    flash("Conversa assumida por você: o robô fica em silêncio.", "success")
    return redirect(_page(conversation_id))


@bp.post("/<int:conversation_id>/devolver")
@login_required
def give_back(conversation_id: int):  # type: ignore[no-untyped-def]
    """ "Devolver ao robô", with an optional closing message."""
    me = viewer()
    session = db.session()
    closing = _draft("closing_")
    try:
        saved = giveback.give_back(session, conversations.services(), conversation_id, me, closing)
    except (composer.ComposeError, assignments.AssignmentError, NotAllowed) as error:
        return refused(error, _page(conversation_id))
    session.commit()
    if saved is not None and not saved.duplicate:
        _deliver(conversation_id)
    flash(f"Conversa {conversation_id} devolvida ao robô.", "success")
    return redirect(url_for("console.queue"))
