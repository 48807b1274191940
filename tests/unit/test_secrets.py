"""One secret per purpose, rotatable: media-URL signing keys apart from SECRET_KEY, and each creditor's
own payment webhook secret (issue 14 §3)."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from bot.config import ConfigError, Settings, override
from bot.db import Database
from bot.models import AuditLog, Creditor, Debtor, Invoice, InvoiceStatus
from bot.payments import links, providers, webhook_secrets
from tests.conftest import People
from tests.unit.conftest import run
from tests.unit.test_production_config import PLACEHOLDER, production
from webhooks import create_app

CNPJ = "11.222.333/0001-81"  # the `people` fixture's creditor
OTHER_CNPJ = "41.820.537/0001-85"
GLOBAL_SECRET = "payment-webhook-secret-0123456789"
NEW_KEY = "cmBLcQkaclb6hqxNPZP5RG9wqwghEz2uZ_0Ij4j8ivaklz1719LxYyqh1L5SbUmQ"
PAID = {"id": "evt-1", "reference": "F-1", "amount_cents": 16500, "paid_at": "2026-11-23T10:00:00-03:00"}


# ---- media URLs -----------------------------------------------------------------------------------------


def _forged(key: str, invoice_id: int = 1) -> str:
    """A media token for any invoice, signed by someone who knows `key`."""
    return URLSafeTimedSerializer(key, salt=links.MEDIA_SALT).dumps(["pix", "i", invoice_id])


def test_a_media_url_forged_with_a_placeholder_or_the_session_key_is_refused_in_production() -> None:
    with pytest.raises(ConfigError, match=r"^MEDIA_SIGNING_KEYS"):
        production(MEDIA_SIGNING_KEYS=PLACEHOLDER)
    with pytest.raises(ConfigError, match=r"^SECRET_KEY"):
        production(SECRET_KEY=PLACEHOLDER)
    settings = production()
    for known in (PLACEHOLDER, settings.secret_key):
        with pytest.raises(links.InvalidMediaToken):
            links.read_media_token(settings, _forged(known))
    genuine = links.media_url(settings, "pix", invoice_id=1).split("/m/")[1].removesuffix(".png")
    assert links.read_media_token(settings, genuine) == ("pix", "invoice", 1)


def test_without_media_keys_a_fresh_clone_signs_with_a_key_derived_from_secret_key_not_the_key_itself(
    settings: Settings,
) -> None:
    assert settings.media_signing_keys == () and settings.media_keys[0] != settings.secret_key
    with pytest.raises(links.InvalidMediaToken):
        links.read_media_token(settings, _forged(settings.secret_key))
    token = links.media_url(settings, "boleto", instalment_id=7).split("/m/")[1].removesuffix(".png")
    assert links.read_media_token(settings, token) == ("boleto", "instalment", 7)


def test_a_rotated_media_key_still_verifies_old_urls_until_it_is_dropped() -> None:
    before = production()
    old_key = before.media_signing_keys[0]
    old_url = links.media_url(before, "pix", invoice_id=3).split("/m/")[1].removesuffix(".png")
    rotated = production(MEDIA_SIGNING_KEYS=f"{NEW_KEY},{old_key}")
    assert links.read_media_token(rotated, old_url) == ("pix", "invoice", 3)
    new_url = links.media_url(rotated, "pix", invoice_id=3).split("/m/")[1].removesuffix(".png")
    with pytest.raises(links.InvalidMediaToken):  # new URLs are signed with the new key only
        links.read_media_token(before, new_url)
    dropped = production(MEDIA_SIGNING_KEYS=NEW_KEY)
    assert links.read_media_token(dropped, new_url) == ("pix", "invoice", 3)
    with pytest.raises(links.InvalidMediaToken):
        links.read_media_token(dropped, old_url)


# ---- per-creditor payment webhook secrets ---------------------------------------------------------------


@pytest.fixture
def pay_app(settings: Settings, db: Database, services, redis_conn) -> Flask:  # type: ignore[no-untyped-def]
    pay_settings = override(settings, payment_webhook_secret=GLOBAL_SECRET)
    services.settings = pay_settings
    app = create_app(pay_settings)
    app.extensions["regua_services"] = services
    return app


@pytest.fixture
def other_creditor(db: Database, people: People) -> int:
    """A second creditor, with an open invoice of its own (F-9) for the same debtor."""
    with db.session() as s:
        creditor = Creditor(legal_name="Outra Loja SA", cnpj="41820537000185", contact_channel="SAC 0800")
        debtor = s.get_one(Debtor, people.debtor_id)
        model = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        s.add(creditor)
        s.add(
            Invoice(
                creditor=creditor,
                debtor=debtor,
                external_ref="F-9",
                amount_cents=model.amount_cents,
                due_date=model.due_date,
            )
        )
        s.flush()
        return creditor.id


def _issue(cnpj: str, *flags: str) -> str:
    result = run("creditor", "webhook-secret", "--cnpj", cnpj, *flags)
    assert result.exit_code == 0, result.output
    return re.search(r"pagamentos: (\S+)", result.output).group(1)  # type: ignore[union-attr]


def _confirm(app: Flask, payload: dict, secret: str, creditor: str | None = None):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    headers = {providers.SIGNATURE_HEADER: providers.sign(secret, body)}
    if creditor is not None:
        headers[webhook_secrets.CREDITOR_HEADER] = creditor
    return app.test_client().post(
        "/webhooks/payments/default", data=body, content_type="application/json", headers=headers
    )


def _status(db: Database, ref: str) -> InvoiceStatus:
    with db.session() as s:
        return s.scalar(select(Invoice.status).where(Invoice.external_ref == ref))


def test_a_creditor_confirms_its_payments_with_its_own_secret(
    cli_env, pay_app: Flask, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    secret = _issue(CNPJ)
    assert len(secret) >= 64
    response = _confirm(pay_app, PAID, secret, creditor=CNPJ)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"][0]["outcome"] == "paid"
    assert _status(db, "F-1") == InvoiceStatus.PAID
    assert _confirm(pay_app, {**PAID, "id": "evt-2"}, secret).status_code == 403  # no header: not its key


def test_one_creditors_secret_cannot_confirm_another_creditors_payment(
    cli_env, pay_app: Flask, db: Database, people: People, other_creditor: int
) -> None:  # type: ignore[no-untyped-def]
    other_secret = _issue(OTHER_CNPJ)
    # Naming the victim's CNPJ in the body: the whole request is refused.
    named = _confirm(pay_app, {**PAID, "creditor_cnpj": CNPJ}, other_secret, creditor=OTHER_CNPJ)
    assert named.status_code == 403
    # Claiming to be the victim, signed with another creditor's key: refused.
    assert _confirm(pay_app, PAID, other_secret, creditor=CNPJ).status_code == 403
    # Without a CNPJ, the reference is only looked up among the signer's own charges.
    unnamed = _confirm(pay_app, PAID, other_secret, creditor=OTHER_CNPJ)
    assert unnamed.status_code == 422
    assert unnamed.get_json()["results"][0]["outcome"] == "unknown_reference"
    assert _status(db, "F-1") == InvoiceStatus.OPEN
    own = _confirm(pay_app, {**PAID, "id": "evt-9", "reference": "F-9"}, other_secret, creditor=OTHER_CNPJ)
    assert own.status_code == 200 and _status(db, "F-9") == InvoiceStatus.PAID


def test_the_global_secret_no_longer_confirms_for_a_creditor_with_its_own(
    cli_env, pay_app: Flask, db: Database, people: People, other_creditor: int
) -> None:  # type: ignore[no-untyped-def]
    _issue(CNPJ)
    assert _confirm(pay_app, {**PAID, "creditor_cnpj": CNPJ}, GLOBAL_SECRET).status_code == 403
    assert _confirm(pay_app, PAID, GLOBAL_SECRET).status_code == 403  # found by reference alone
    assert _confirm(pay_app, PAID, GLOBAL_SECRET, creditor=CNPJ).status_code == 403
    assert _status(db, "F-1") == InvoiceStatus.OPEN
    # The fallback still serves the creditor without a secret of its own.
    fallback = _confirm(pay_app, {**PAID, "id": "evt-9", "reference": "F-9"}, GLOBAL_SECRET)
    assert fallback.status_code == 200 and _status(db, "F-9") == InvoiceStatus.PAID


def test_a_rotated_webhook_secret_keeps_the_previous_one_until_it_is_dropped(
    cli_env, pay_app: Flask, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    old = _issue(CNPJ)
    new = _issue(CNPJ, "--rotate")
    assert new != old
    unknown = {**PAID, "reference": "NOPE"}  # authenticated but matching nothing: 422, not 403
    assert _confirm(pay_app, {**unknown, "id": "e1"}, old, creditor=CNPJ).status_code == 422
    assert _confirm(pay_app, {**unknown, "id": "e2"}, new, creditor=CNPJ).status_code == 422
    dropped = run("creditor", "webhook-secret", "--cnpj", CNPJ, "--drop-previous")
    assert dropped.exit_code == 0 and "descartado" in dropped.output
    assert _confirm(pay_app, {**unknown, "id": "e3"}, old, creditor=CNPJ).status_code == 403
    assert _confirm(pay_app, {**unknown, "id": "e4"}, new, creditor=CNPJ).status_code == 422


def test_a_webhook_secret_is_shown_once_and_kept_out_of_listings_and_the_audit_log(
    cli_env, db: Database, people: People
) -> None:  # type: ignore[no-untyped-def]
    secret = _issue(CNPJ)
    again = run("creditor", "webhook-secret", "--cnpj", CNPJ)
    assert again.exit_code != 0 and "--rotate" in again.output and secret not in again.output
    assert secret not in run("creditor", "list").output
    with db.session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action.like("creditor.webhook_secret%"))).all()
        assert [a.action for a in audit] == ["creditor.webhook_secret.created"]
        assert secret not in json.dumps(audit[0].details)
        creditor = s.get_one(Creditor, people.creditor_id)
        assert secret not in repr(creditor)
        assert creditor.payment_webhook_secret == secret
