"""Paying: payment page, chat images, confirmation webhook, claims, disputes, the chat agreement flow."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import func, select, update

from bot import texts
from bot.answers import claims, negotiation, turns
from bot.config import Settings, override
from bot.db import Database
from bot.models import (
    Agreement,
    AgreementPolicy,
    AgreementStatus,
    Case,
    CaseKind,
    CaseStatus,
    Creditor,
    Direction,
    Invoice,
    InvoiceStatus,
    Message,
    Payment,
    PaymentLink,
    PaymentLinkView,
    utcnow,
)
from bot.payments import links, pix, providers
from bot.rasa.client import BotMessage
from tests.conftest import People
from tests.unit.conftest import FakeRasa
from tests.unit.test_dialogue import _say
from webhooks import create_app

SECRET = "payment-webhook-secret-0123456789"


@pytest.fixture
def pay_settings(settings: Settings) -> Settings:
    return override(settings, payment_webhook_secret=SECRET)


@pytest.fixture
def pay_app(pay_settings: Settings, db: Database, services, redis_conn) -> Flask:  # type: ignore[no-untyped-def]
    services.settings = pay_settings
    app = create_app(pay_settings)
    app.extensions["regua_services"] = services
    return app


@pytest.fixture
def with_pix_key(db: Database, people: People) -> None:
    with db.session() as s:
        creditor = s.get_one(Creditor, people.creditor_id)
        creditor.pix_key = "cobranca@lojaexemplo.com.br"
        creditor.city = "São Paulo"


def _link(db: Database, settings: Settings, ref: str = "F-1") -> str:
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == ref))
        return links.link_for(s, settings, invoice=invoice).token


# ---- the payment page -----------------------------------------------------------------------------------


def test_the_page_shows_the_creditor_the_itemised_amount_and_both_instruments(
    pay_app: Flask, pay_settings: Settings, db: Database, people: People, with_pix_key: None
) -> None:
    token = _link(db, pay_settings)
    response = pay_app.test_client().get(f"/p/{token}", headers={"User-Agent": "Mozilla/5.0 (Android)"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Loja Exemplo Ltda" in html and "CNPJ 11.222.333/0001-81" in html
    assert "Valor original" in html and "Multa" in html and "Juros" in html
    total = re.search(r'data-testid="total">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    # The Pix code on the page is a valid BR Code for exactly the updated total, on the creditor's key.
    code = re.search(r'<textarea id="pix-code"[^>]*>([^<]+)<', html).group(1)  # type: ignore[union-attr]
    parsed = pix.parse_brcode(code)
    assert parsed["key"] == "cobranca@lojaexemplo.com.br"
    assert total == f"R$ {parsed['amount_cents'] // 100},{parsed['amount_cents'] % 100:02d}"
    assert "Copiar código Pix" in html and "Copiar linha digitável" in html
    with db.session() as s:
        view = s.scalars(select(PaymentLinkView)).one()
        assert view.user_agent == "Mozilla/5.0 (Android)"


def test_images_are_served_at_signed_urls_only(
    pay_app: Flask, pay_settings: Settings, db: Database, people: People, with_pix_key: None
) -> None:
    html = pay_app.test_client().get(f"/p/{_link(db, pay_settings)}").get_data(as_text=True)
    qr_url, barcode_url = re.findall(r'src="([^"]+\.png)"', html)
    client = pay_app.test_client()
    for url in (qr_url, barcode_url):
        response = client.get(url.removeprefix(pay_settings.public_base_url))
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert Image.open(io.BytesIO(response.data)).size[0] > 200
    tampered = qr_url.removeprefix(pay_settings.public_base_url).replace(".png", "x.png")
    assert client.get(tampered).status_code == 404
    with pytest.raises(links.InvalidMediaToken):
        links.read_media_token(
            override(pay_settings, secret_key="another-secret-key-123"), qr_url.split("/m/")[1][:-4]
        )


def test_expired_unknown_and_paid_links(
    pay_app: Flask, pay_settings: Settings, db: Database, people: People
) -> None:
    client = pay_app.test_client()
    assert client.get("/p/not-a-token").status_code == 404
    token = _link(db, pay_settings)
    with db.session() as s:
        s.execute(update(Invoice).where(Invoice.external_ref == "F-1").values(status=InvoiceStatus.PAID))
    done = client.get(f"/p/{token}")
    assert done.status_code == 200 and "Tudo certo!" in done.get_data(as_text=True)
    with db.session() as s:
        s.execute(update(PaymentLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = client.get(f"/p/{token}")
    assert expired.status_code == 410 and "Este link expirou" in expired.get_data(as_text=True)


def test_tokens_are_unguessable_and_reused_while_fresh(
    db: Database, pay_settings: Settings, people: People
) -> None:
    first, again = _link(db, pay_settings), _link(db, pay_settings)
    assert first == again and len(first) >= 32
    assert _link(db, pay_settings, "F-2") != first


# ---- confirmation webhook -------------------------------------------------------------------------------


def _confirm(app: Flask, payload: dict, *, secret: str = SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return app.test_client().post(
        "/webhooks/payments/default",
        data=body,
        content_type="application/json",
        headers={providers.SIGNATURE_HEADER: providers.sign(secret, body)},
    )


PAID = {"id": "evt-1", "reference": "F-1", "creditor_cnpj": "11.222.333/0001-81", "amount_cents": 16500,
        "paid_at": "2026-11-23T10:00:00-03:00"}  # fmt: skip


def test_a_signed_confirmation_marks_the_invoice_paid_once(
    pay_app: Flask, db: Database, people: People
) -> None:
    response = _confirm(pay_app, PAID)
    assert response.status_code == 200 and response.get_json()["results"][0]["outcome"] == "paid"
    again = _confirm(pay_app, PAID)
    assert again.get_json()["results"][0]["outcome"] == "duplicate"
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        assert invoice.status == InvoiceStatus.PAID
        assert invoice.paid_at.replace(tzinfo=UTC) == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
        assert s.scalar(select(func.count()).select_from(Payment)) == 1


def test_bad_signatures_bad_bodies_and_unknown_references(
    pay_app: Flask, db: Database, people: People
) -> None:
    assert _confirm(pay_app, PAID, secret="wrong-secret-wrong-secret").status_code == 403
    assert pay_app.test_client().post("/webhooks/payments/default", data=b"{}").status_code == 403
    assert pay_app.test_client().post("/webhooks/payments/unknown-psp", data=b"{}").status_code == 404
    bad = _confirm(pay_app, {**PAID, "amount_cents": 165.0})
    assert bad.status_code == 400 and "amount_cents" in bad.get_json()["message"]
    unknown = _confirm(pay_app, {**PAID, "id": "evt-2", "reference": "NOPE"})
    assert unknown.status_code == 422 and unknown.get_json()["results"][0]["outcome"] == "unknown_reference"
    partial = _confirm(pay_app, {**PAID, "id": "evt-3", "amount_cents": 100})
    assert partial.get_json()["results"][0]["outcome"] == "partial"
    with db.session() as s:
        assert s.scalar(select(Invoice.status).where(Invoice.external_ref == "F-1")) == InvoiceStatus.OPEN


def test_without_a_configured_secret_nothing_is_accepted(
    settings: Settings, db: Database, people: People
) -> None:
    app = create_app(settings)  # PAYMENT_WEBHOOK_SECRET unset
    assert _confirm(app, PAID).status_code == 403


# ---- chat: "já paguei", receipts, disputes, payment confirmation --------------------------------------


def _as_action(handler):  # type: ignore[no-untyped-def]
    def answer(sender_id: str, _text: str, metadata: dict) -> list[BotMessage]:
        return [BotMessage(text=r.text) for r in turns.respond(handler, sender_id, metadata)]

    return answer


@pytest.fixture
def actions_on_test_db(monkeypatch, pay_settings: Settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.answers.turns.get_settings", lambda: pay_settings)
    monkeypatch.setattr("bot.answers.turns.get_database", lambda _url: db)


def test_ja_paguei_pauses_reminders_asks_the_receipt_and_attaches_the_photo(
    pay_app: Flask,
    pay_settings: Settings,
    services,
    fake_rasa: FakeRasa,
    db: Database,
    people: People,
    actions_on_test_db,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = _as_action(claims.ja_paguei)
    claim = _say(pay_app, pay_settings, services, "ja paguei ontem")
    assert "Pausamos os lembretes por 5 dias" in claim.texts[0] and "comprovante" in claim.texts[0]
    receipt = _say(
        pay_app, pay_settings, services, "", media=[("https://api.twilio.com/m/ME1", "image/jpeg")]
    )
    assert receipt.texts == [texts.RECEIPT_RECEIVED]
    with db.session() as s:
        cases = s.scalars(select(Case).where(Case.kind == CaseKind.PAYMENT_CLAIM)).all()
        assert len(cases) == 2 and all(c.status == CaseStatus.OPEN for c in cases)
        assert all(c.evidence[0]["url"] == "https://api.twilio.com/m/ME1" for c in cases)
        invoices = s.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.OPEN)).all()
        assert all(i.pause_reason == "payment_claim" and i.collection_paused_until for i in invoices)

    # The provider confirms: the claim is resolved, the pause lifted, and the debtor thanked in the chat.
    assert _confirm(pay_app, PAID).status_code == 200
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        assert invoice.status == InvoiceStatus.PAID and invoice.pause_reason is None
        resolved = s.scalar(select(Case).where(Case.invoice_id == invoice.id))
        assert resolved.status == CaseStatus.RESOLVED
        thanks = s.scalar(
            select(Message.body).where(Message.direction == Direction.OUTBOUND).order_by(Message.id.desc())
        )
        assert thanks.startswith("Recebemos o pagamento de R$ 165,00")


def test_a_dispute_pauses_collection_and_opens_cases(
    pay_app: Flask,
    pay_settings: Settings,
    services,
    fake_rasa: FakeRasa,
    db: Database,
    people: People,
    actions_on_test_db,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = _as_action(claims.contestar_divida)
    exchange = _say(pay_app, pay_settings, services, "nao reconheco essa divida, nunca comprei ai")
    assert exchange.texts[0].startswith("Entendi. Registramos a sua contestação")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.kind == CaseKind.DISPUTE)) == 2
        assert {
            i.pause_reason for i in s.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.OPEN))
        } == {"dispute"}


def test_renegotiation_from_the_first_message_to_the_agreement(
    pay_app: Flask,
    pay_settings: Settings,
    services,
    fake_rasa: FakeRasa,
    db: Database,
    people: People,
    with_pix_key: None,
    actions_on_test_db,
) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        s.add(AgreementPolicy(creditor_id=people.creditor_id, max_instalments=4, min_instalment_cents=5000,
                              cash_discount_bps=1000))  # fmt: skip
    fake_rasa.answer = _as_action(negotiation.renegociar)
    offer = _say(pay_app, pay_settings, services, "nao consigo pagar tudo, da pra parcelar?")
    text = offer.texts[0]
    assert "CNPJ 11.222.333/0001-81" in text and "1) À vista" in text and "desconto" in text
    assert "3) 4x de" in text  # the policy's maximum, never more
    chosen = _say(pay_app, pay_settings, services, "3")
    assert chosen.texts[0].startswith("Confirma o acordo? 4x de")
    closed = _say(pay_app, pay_settings, services, "sim")
    assert closed.texts[0].startswith("Acordo nº")
    assert "Primeira parcela" in closed.texts[1] and "/p/" in closed.texts[1]
    assert pix.parse_brcode(closed.texts[2])["key"] == "cobranca@lojaexemplo.com.br"
    assert closed.replies[2].media and "/m/" in closed.replies[2].media[0]["url"]  # the QR code on WhatsApp
    with db.session() as s:
        agreement = s.scalars(select(Agreement)).one()
        assert agreement.status == AgreementStatus.ACTIVE and len(agreement.instalments) == 4
        assert agreement.instalments[0].pix_code == closed.texts[2]
        assert {i.status for i in agreement.invoices} == {InvoiceStatus.IN_AGREEMENT}
    assert [c[1] for c in fake_rasa.calls] == [
        "nao consigo pagar tudo, da pra parcelar?"
    ]  # picks: no NLU turn


def test_the_parcelas_entity_picks_an_option_when_the_text_alone_does_not(
    pay_app: Flask,
    pay_settings: Settings,
    services,
    fake_rasa: FakeRasa,
    db: Database,
    people: People,
    actions_on_test_db,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = _as_action(negotiation.renegociar)
    _say(pay_app, pay_settings, services, "quero negociar")
    fake_rasa.parsed = lambda text: {"intent": {"name": "renegociar"}, "entities": [
        {"entity": "parcelas", "start": 10, "end": 16, "value": "6x"}]}  # fmt: skip
    chosen = _say(pay_app, pay_settings, services, "faz em uma sextuplinha")
    assert chosen.texts[0].startswith("Confirma o acordo? 6x de")
    fake_rasa.parsed = lambda text: {"intent": {"name": "negar"}, "entities": []}
    declined = _say(pay_app, pay_settings, services, "melhor deixar pra la")
    assert declined.texts == [texts.AGREEMENT_DECLINED]


def test_an_instalment_confirmation_pays_it(
    pay_app: Flask,
    pay_settings: Settings,
    services,
    fake_rasa: FakeRasa,
    db: Database,
    people: People,
    actions_on_test_db,
) -> None:  # type: ignore[no-untyped-def]
    fake_rasa.answer = _as_action(negotiation.renegociar)
    _say(pay_app, pay_settings, services, "quero parcelar")
    _say(pay_app, pay_settings, services, "2")
    _say(pay_app, pay_settings, services, "sim")
    with db.session() as s:
        agreement = s.scalars(select(Agreement)).one()
        first = agreement.instalments[0]
        reference, amount = f"A{agreement.id}P1", first.amount_cents
    response = _confirm(pay_app, {**PAID, "id": "evt-9", "reference": reference, "amount_cents": amount})
    assert response.get_json()["results"][0]["outcome"] == "paid"
    with db.session() as s:
        assert s.scalars(select(Agreement)).one().instalments[0].paid_at is not None
