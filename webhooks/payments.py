"""Paying: the payment page (`/p/<token>`) and its copy events (`/p/<token>/copiado`), chat images
(`/m/<token>.png`) and provider confirmations (`/webhooks/payments/<provider>`)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, render_template, request
from sqlalchemy.orm import Session

from bot import localtime, texts
from bot.documents import format_cnpj
from bot.models import (
    PAYMENT_REVIEW,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    PageEvent,
    PaymentLink,
    utcnow,
)
from bot.payments import boleto, charges, confirmations, links, pix, webhook_secrets
from bot.payments.charges import Charge
from bot.payments.providers import SIGNATURE_HEADER, InvalidConfirmation, get_provider
from bot.runtime import RqLater
from webhooks.errors import error_response
from webhooks.extensions import db, redis_ext, settings

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__)

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _charge(session: Session, *, invoice: Invoice | None, instalment: Instalment | None) -> Charge | None:
    """The charge behind a link or image, or None when there is nothing left to pay."""
    provider = charges.provider_for(settings())
    if invoice is not None:
        if invoice.status != InvoiceStatus.OPEN:
            return None
        today = localtime.local_date(utcnow(), invoice.debtor.timezone)
        return charges.for_invoice(invoice, today, provider)
    assert instalment is not None
    if instalment.status != InstalmentStatus.OPEN:
        return None
    return charges.for_instalment(instalment, provider)


def _held(*, invoice: Invoice | None, instalment: Instalment | None) -> bool:
    """True while a dispute or a payment under review holds the charge: the team decides what is owed,
    so the page must not ask for an amount (nor serve the codes to pay it) until then."""
    if invoice is not None:
        return invoice.on_hold
    return instalment is not None and instalment.agreement.pause_reason == PAYMENT_REVIEW


def _paid_label(link: PaymentLink) -> str:
    if link.invoice is not None:
        return texts.invoice_label(link.invoice.description, link.invoice.external_ref)
    assert link.instalment is not None
    return texts.instalment_label(link.instalment.number, link.instalment.agreement_id)


def _valid_boleto(line: str | None) -> bool:
    """True when the line passes every check digit (an imported line may not: then it is shown as text,
    without a barcode that no bank would read)."""
    if not line:
        return False
    try:
        boleto.parse(line)
    except boleto.InvalidBoleto:
        log.warning("a stored linha digitável fails its check digits; shown without barcode")
        return False
    return True


@bp.get("/p/<token>")
def page(token: str):  # type: ignore[no-untyped-def]
    """The payment page a debtor opens from WhatsApp/SMS. Every opening is recorded."""
    session = db.session()
    opened = links.open_link(session, token, request.headers.get("User-Agent"))
    if opened is None:
        abort(404)
    session.commit()
    link = opened.link
    creditor = link.invoice.creditor if link.invoice is not None else link.instalment.agreement.creditor  # type: ignore[union-attr]
    context = {"creditor": creditor, "cnpj": format_cnpj(creditor.cnpj)}
    if opened.expired:
        return render_template("payment_expired.html", **context), 410, PRIVATE_HEADERS
    if _held(invoice=link.invoice, instalment=link.instalment):
        return (
            render_template("payment_review.html", label=_paid_label(link), **context),
            200,
            PRIVATE_HEADERS,
        )
    charge = _charge(session, invoice=link.invoice, instalment=link.instalment)
    if charge is None:
        return render_template("payment_done.html", label=_paid_label(link), **context), 200, PRIVATE_HEADERS
    session.commit()  # instalment instruments issued on first view are kept
    boleto_ok = _valid_boleto(charge.boleto_line)
    return (
        render_template(
            "payment.html",
            charge=charge,
            pix_image=charge.media_url(settings(), "pix") if charge.pix_code else None,
            boleto_image=charge.media_url(settings(), "boleto") if boleto_ok else None,
            boleto_formatted=boleto.format_linha(charge.boleto_line) if boleto_ok else charge.boleto_line,
            **context,
        ),
        200,
        PRIVATE_HEADERS,
    )


def _same_origin_script() -> bool:
    """True for a request the page's own script could have sent: JSON (a cross-site form cannot send it
    without a CORS preflight, which this app never grants) and, when the browser says where it comes from,
    from this origin. The blueprint has no session, so this is its CSRF defence; the token is the secret."""
    if not request.is_json:
        return False
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    # The host only: behind a TLS-terminating proxy the app may see http while the page was https.
    return origin is None or urlsplit(origin).netloc == request.host


@bp.post("/p/<token>/copiado")
def copied(token: str) -> Response:
    """The payment page's copy buttons report a copy (Pix code or linha digitável) for the metrics."""
    if not _same_origin_script():
        abort(403)
    payload = request.get_json(silent=True)
    kind = payload.get("kind") if isinstance(payload, dict) else None
    if kind not in {event.value for event in PageEvent}:
        abort(400)
    session = db.session()
    if not links.record_copy(session, token, PageEvent(kind)):
        abort(404)
    session.commit()
    return Response(status=204, headers=PRIVATE_HEADERS)


@bp.get("/m/<token>.png")
def media(token: str) -> Response:
    """The Pix QR code or boleto barcode of a charge, at a signed, expiring URL (WhatsApp media)."""
    try:
        kind, target, ident = links.read_media_token(settings(), token)
    except links.InvalidMediaToken:
        abort(404)
    session = db.session()
    invoice = session.get(Invoice, ident) if target == "invoice" else None
    instalment = session.get(Instalment, ident) if target == "instalment" else None
    held = _held(invoice=invoice, instalment=instalment)
    charge = _charge(session, invoice=invoice, instalment=instalment) if (invoice or instalment) else None
    if charge is None or held:
        abort(410)
    if kind == "pix" and charge.pix_code:
        png = pix.qr_png(charge.pix_code)
    elif kind == "boleto" and _valid_boleto(charge.boleto_line):
        png = boleto.barcode_png(charge.boleto_line)  # type: ignore[arg-type]
    else:
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


@bp.post("/webhooks/payments/<provider_name>")
def confirm(provider_name: str):  # type: ignore[no-untyped-def]
    """A provider confirms payments (HMAC-signed body, by the creditor's own secret or the global one,
    see `bot.payments.webhook_secrets`). Idempotent: repeating one changes nothing."""
    provider = get_provider(settings(), provider_name)
    if provider is None:
        abort(404)
    body = request.get_data(cache=True)
    session = db.session()
    signer = webhook_secrets.authenticate(
        session,
        provider,
        body,
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(webhook_secrets.CREDITOR_HEADER),
    )
    if signer is None:
        log.warning("payment webhook %s: bad or missing signature", provider_name)
        abort(403)
    try:
        items = provider.confirmations(body)
    except InvalidConfirmation as error:
        return error_response(400, "bad_request", f"Confirmação de pagamento inválida: {error}.")
    bound = webhook_secrets.bind(session, signer, items)
    if bound is None:  # e.g. one creditor's secret confirming another's charge
        log.warning("payment webhook %s: a confirmation beyond what its signer may confirm", provider_name)
        abort(403)
    items = bound
    results = []
    thanked: set[int] = set()
    for item in items:
        applied = confirmations.apply(session, settings(), provider.name, item)
        thanked.update(applied.thanked_conversations)
        results.append({"id": item.external_id, "reference": item.reference, "outcome": applied.outcome})
    session.commit()
    later = RqLater(redis_ext.client())
    for conversation_id in sorted(thanked):
        later.deliver(conversation_id)
    unmatched = [r for r in results if r["outcome"] in ("unknown_reference", "unknown_creditor")]
    return jsonify(results=results), 422 if unmatched else 200
