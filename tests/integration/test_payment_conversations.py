"""Paying through the chat, over the real stack (web app, worker, Rasa with the trained model, action
server): segunda via with every instrument, renegotiation to an agreement, "já paguei" with a receipt
photo, a dispute, and a provider's payment confirmation closing the loop."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from bot import texts
from bot.conversation import chat
from bot.models import (
    Agreement,
    AgreementStatus,
    Case,
    CaseKind,
    CaseStatus,
    Invoice,
    InvoiceStatus,
)
from bot.payments import boleto, pix, providers
from bot.phones import Address
from tests.integration.conftest import LINE, PAYMENT_SECRET, Stack, new_debtor, say

pytestmark = pytest.mark.integration

PIX_KEY = "cobranca@loja-integracao.com.br"


def _confirm_payment(stack: Stack, payload: dict) -> requests.Response:
    body = json.dumps(payload).encode()
    return requests.post(
        f"{stack.web_url}/webhooks/payments/default",
        data=body,
        headers={
            "Content-Type": "application/json",
            providers.SIGNATURE_HEADER: providers.sign(PAYMENT_SECRET, body),
        },
        timeout=10,
    )


def test_segunda_via_returns_every_instrument(stack: Stack) -> None:
    _, phone = new_debtor(stack.database, pix_key=PIX_KEY)
    exchange = say(stack, phone, "me manda o pix e o boleto atualizado por favor")
    summary, pix_code, line = exchange.texts[:3]
    assert "Loja Integração Ltda (CNPJ" in summary and "valor original R$ 259,90 + multa" in summary
    # A Pix code for the updated amount on the creditor's key, and the bank's boleto line.
    parsed = pix.parse_brcode(pix_code)
    assert parsed["key"] == PIX_KEY and parsed["amount_cents"] > 25990
    assert line == LINE and boleto.parse(line).amount_cents == 25990
    # The payment page and the images (QR code, barcode) answer at the URLs sent in the chat.
    page = summary.split("Pague pelo link: ")[1].split()[0]
    html = requests.get(page, timeout=10).text
    assert pix_code in html and "Copiar linha digitável" in html
    for reply in exchange.replies[1:3]:
        image = requests.get(reply.media[0]["url"], timeout=10)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"


def test_renegotiation_from_the_first_message_to_the_agreement(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database, pix_key=PIX_KEY)
    offer = say(stack, phone, "nao tenho como pagar tudo agora, da pra parcelar?")
    assert "Opções:" in offer.texts[0] and "1) À vista" in offer.texts[0], offer.texts
    chosen = say(stack, phone, "2")
    assert chosen.texts[0].startswith("Confirma o acordo?")
    closed = say(stack, phone, "sim")
    assert closed.texts[0].startswith("Acordo nº"), closed.texts
    assert pix.parse_brcode(closed.texts[2])["key"] == PIX_KEY
    with stack.database.session() as s:
        agreement = s.scalars(select(Agreement).where(Agreement.debtor_id == debtor_id)).one()
        assert agreement.status == AgreementStatus.ACTIVE and len(agreement.instalments) > 1
        assert {i.status for i in agreement.invoices} == {InvoiceStatus.IN_AGREEMENT}
        first = agreement.instalments[0]
        reference, amount = f"A{agreement.id}P1", first.amount_cents
    # The provider confirms the first instalment; the debtor is thanked in the chat.
    confirmed = _confirm_payment(
        stack,
        {
            "id": f"evt-{reference}",
            "reference": reference,
            "amount_cents": amount,
            "paid_at": "2026-11-23T10:00:00-03:00",
        },
    )
    assert confirmed.status_code == 200 and confirmed.json()["results"][0]["outcome"] == "paid"


def test_ja_paguei_with_a_receipt_photo(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    form = chat.inbound_form(
        stack.settings,
        Address("whatsapp", phone),
        "ja paguei ontem, segue o comprovante",
        media=[("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1", "image/jpeg")],
    )
    assert chat.post(stack.settings, stack.web_url, chat.MESSAGES_PATH, form).status_code == 200
    exchange = chat.replies_to(stack.database, form["MessageSid"], timeout=30)
    assert "Recebemos o comprovante" in exchange.texts[0], exchange.texts
    with stack.database.session() as s:
        case = s.scalars(select(Case).where(Case.debtor_id == debtor_id)).one()
        assert case.kind == CaseKind.PAYMENT_CLAIM and case.evidence[0]["content_type"] == "image/jpeg"
        invoice = s.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)).one()
        assert invoice.pause_reason == "payment_claim" and invoice.collection_paused_until is not None
        reference, cnpj = invoice.external_ref, invoice.creditor.cnpj
    # The payment is confirmed: the claim is resolved, collection resumes nowhere, the debtor is thanked.
    confirmed = _confirm_payment(
        stack,
        {
            "id": f"evt-{reference}",
            "reference": reference,
            "creditor_cnpj": cnpj,
            "amount_cents": 26500,
            "paid_at": "2026-11-22T18:30:00-03:00",
        },
    )
    assert confirmed.json()["results"][0]["outcome"] == "paid"
    with stack.database.session() as s:
        invoice = s.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)).one()
        assert invoice.status == InvoiceStatus.PAID and invoice.pause_reason is None
        assert s.scalars(select(Case).where(Case.debtor_id == debtor_id)).one().status == CaseStatus.RESOLVED
    after = say(stack, phone, "quanto eu devo?")
    assert after.texts == [texts.NO_OPEN_INVOICES]  # nothing left to charge or remind


def test_a_dispute_pauses_collection(stack: Stack) -> None:
    debtor_id, phone = new_debtor(stack.database)
    exchange = say(stack, phone, "eu nunca comprei nada nessa loja, nao reconheco essa cobranca")
    assert exchange.texts[0].startswith("Entendi. Registramos a sua contestação"), exchange.texts
    with stack.database.session() as s:
        assert s.scalars(select(Case).where(Case.debtor_id == debtor_id)).one().kind == CaseKind.DISPUTE
        assert (
            s.scalars(select(Invoice.pause_reason).where(Invoice.debtor_id == debtor_id)).one() == "dispute"
        )
    # Collection is paused: nothing to renegotiate while the dispute is open.
    assert say(stack, phone, "quero fazer um acordo pra parcelar").texts == [texts.NOTHING_TO_NEGOTIATE]
