"""The debtor card's actions on the conversation page (issue 16 §5): `/console/conversas/<id>/ficha/...`.

Every action is a POST with the CSRF token; the services (bot.console.card_actions, card_records) check
who may act, lock the conversation and audit under the person. Views stay thin: parse the form, one
service call, commit, deliver what was saved for the debtor (after the commit, like the composer), and
go back to the page with what happened.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from bot.console import card_actions, card_records, cases, composer
from bot.console.card_records import CardError, Done
from bot.people.roles import NotAllowed
from webhooks.console_views import refused, viewer
from webhooks.extensions import conversations, db, settings

bp = Blueprint("card", __name__, url_prefix="/console/conversas/<int:conversation_id>/ficha")

REFUSALS = (CardError, NotAllowed, cases.CaseError)


def _page(conversation_id: int) -> str:
    return url_for("conversation.show", conversation_id=conversation_id) + "#ficha"


def _submit() -> card_actions.Submit:
    form = request.form
    return card_actions.Submit(
        nonce=form.get("nonce", ""), confirmed=form.get("confirm") == "1", via_sms=form.get("via") == "sms"
    )


def _finish(conversation_id: int, done: Done) -> Response:
    db.session().commit()
    if done.to_deliver:
        composer.deliver_now(conversations.services(), done.deliver_in or conversation_id)
    flash(done.notice, "success")
    return redirect(_page(conversation_id))


def _run(conversation_id: int, action) -> Response:  # type: ignore[no-untyped-def]
    """Run `action(session, me)`; a refusal (pt-BR, from the service) goes back to the page."""
    try:
        done = action(db.session(), viewer())
    except REFUSALS as error:
        return refused(error, _page(conversation_id))
    return _finish(conversation_id, done)


@bp.post("/segunda-via")
@login_required
def send_copy(conversation_id: int):  # type: ignore[no-untyped-def]
    """Send the segunda via of one open invoice or instalment."""
    target = request.form.get("target", "")
    return _run(
        conversation_id,
        lambda s, me: card_actions.send_copy(s, settings(), conversation_id, me, _submit(), target),
    )


@bp.post("/proposta")
@login_required
def propose(conversation_id: int):  # type: ignore[no-untyped-def]
    """Propose one of the policy's agreement options."""
    instalments = request.form.get("instalments", type=int) or 0
    return _run(
        conversation_id,
        lambda s, me: card_actions.propose(s, settings(), conversation_id, me, _submit(), instalments),
    )


@bp.post("/proposta-fora")
@login_required
def propose_outside(conversation_id: int):  # type: ignore[no-untyped-def]
    """A supervisor's proposal outside the policy, with a reason."""
    try:
        discount = Decimal((request.form.get("discount") or "0").replace(",", "."))
    except InvalidOperation:
        return refused(
            CardError("Desconto inválido: use um número, como 15 ou 12,5."), _page(conversation_id)
        )
    terms = card_actions.OwnTerms(
        instalments=request.form.get("instalments", type=int) or 0,
        discount_percent=discount,
        reason=request.form.get("reason", ""),
    )
    return _run(
        conversation_id,
        lambda s, me: card_actions.propose_outside(s, settings(), conversation_id, me, _submit(), terms),
    )


@bp.post("/aceite/<int:offer_id>")
@login_required
def accept(conversation_id: int, offer_id: int):  # type: ignore[no-untyped-def]
    """Register the debtor's yes to the proposal."""
    return _run(
        conversation_id,
        lambda s, me: card_actions.accept(s, settings(), conversation_id, me, _submit(), offer_id),
    )


@bp.post("/promessa")
@login_required
def promise(conversation_id: int):  # type: ignore[no-untyped-def]
    """Record a promise to pay on a date."""
    try:
        promised_on = date.fromisoformat(request.form.get("promised_on", ""))
    except ValueError:
        return refused(CardError("Escolha a data prometida."), _page(conversation_id))
    return _run(
        conversation_id,
        lambda s, me: card_actions.record_promise(s, settings(), conversation_id, me, _submit(), promised_on),
    )


@bp.post("/pausar")
@login_required
def pause(conversation_id: int):  # type: ignore[no-untyped-def]
    """Pause the régua for this debtor."""
    note = request.form.get("note", "")
    return _run(conversation_id, lambda s, me: card_records.pause(s, conversation_id, me, note))


@bp.post("/retomar")
@login_required
def resume(conversation_id: int):  # type: ignore[no-untyped-def]
    """Resume the régua for this debtor."""
    return _run(conversation_id, lambda s, me: card_records.resume(s, conversation_id, me))


@bp.post("/casos/<int:case_id>")
@login_required
def resolve_case(conversation_id: int, case_id: int):  # type: ignore[no-untyped-def]
    """Resolve one of the debtor's cases."""
    note, resume = request.form.get("note", ""), request.form.get("resume") == "1"
    return _run(
        conversation_id,
        lambda s, me: card_records.resolve_case(s, conversation_id, me, case_id, note, resume),
    )


@bp.post("/descadastro")
@login_required
def opt_out(conversation_id: int):  # type: ignore[no-untyped-def]
    """Register the debtor's opt-out of one channel."""
    channel = request.form.get("channel", "")
    return _run(conversation_id, lambda s, me: card_records.opt_out(s, conversation_id, me, channel))
