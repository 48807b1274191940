"""The payment page of a charge on hold (a dispute, or a payment under review) asks for no amount."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select, update

from bot.config import Settings
from bot.db import Database
from bot.models import Invoice
from bot.models.invoices import DISPUTE, PAYMENT_REVIEW
from bot.payments import links
from tests.conftest import People
from tests.unit.test_payments import pay_app, pay_settings  # noqa: F401 (fixtures)


def _link_and_image(db: Database, settings: Settings, client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        token = links.link_for(s, settings, invoice=invoice).token
    page = client.get(f"/p/{token}").get_data(as_text=True)
    image = re.search(r"/m/[^\"']+\.png", page).group(0)  # type: ignore[union-attr]
    return token, image


def test_a_charge_held_by_a_payment_under_review_shows_no_amount_and_no_codes(
    pay_app: Flask,  # noqa: F811
    pay_settings: Settings,  # noqa: F811
    db: Database,
    people: People,
) -> None:
    client = pay_app.test_client()
    token, image = _link_and_image(db, pay_settings, client)
    assert client.get(image).status_code == 200  # before: the QR code to pay is served
    for reason in (PAYMENT_REVIEW, DISPUTE):
        with db.session() as s:
            s.execute(update(Invoice).where(Invoice.external_ref == "F-1").values(pause_reason=reason))
        page = client.get(f"/p/{token}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "Estamos analisando esta cobrança" in text
        assert "R$" not in text and "Copiar código Pix" not in text
        assert client.get(image).status_code == 410
