"""Whole conversations with a Twilio account configured: signed webhook -> web app -> Rasa -> action server
-> the replies back in the webhook's TwiML response, their SIDs recorded from the status callbacks posted
to each `<Message action=...>`; more than ten replies go through the REST API (a local stand-in).

The stack's Rasa, action server, database and Redis are shared; a second web app runs with Twilio
credentials (the stack's own runs in sandbox mode)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.channels.twiml import read_reply_twiml
from bot.config import Settings, load_settings
from bot.conversation import chat
from bot.models import Direction, Invoice, Message, MessageStatus, Processing
from bot.phones import Address
from tests import twilio_standin
from tests.integration.conftest import LINE, Stack, new_debtor, wait_for_http
from tests.processes import free_port, start_process
from tests.twilio_standin import StandIn

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "7" * 32
TOKEN = "integration-twilio-token-0123"


@dataclass
class TwilioWeb:
    """The second web app (Twilio mode) and the stand-in its REST calls go to."""

    settings: Settings
    url: str
    standin: StandIn


@pytest.fixture(scope="module")
def twilio_web(stack: Stack, tmp_path_factory) -> Iterator[TwilioWeb]:  # type: ignore[no-untyped-def]
    with twilio_standin.running() as standin:
        port = free_port()
        env = {
            **stack.env,
            "WEB_PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+5511999990000",
            "TWILIO_SMS_FROM": "+5511999990000",
            "TWILIO_API_BASE_URL": standin.url,
            # One SMS segment a part: a long answer over SMS is more than Twilio takes in one response.
            "SMS_PART_MAX_CHARS": "160",
        }
        env.pop("TWILIO_INLINE_REPLIES", None)  # the default: TwiML
        log_dir = tmp_path_factory.mktemp("twilio-web-logs")
        with start_process("twilio-web", [sys.executable, "-m", "bot.cli", "web"], log_dir, env=env) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(proc, f"{url}/health/ready", timeout=60)
            yield TwilioWeb(load_settings(env), url, standin)


def _say(web: TwilioWeb, phone: str, body: str, *, channel: str = "whatsapp", sid: str | None = None):  # type: ignore[no-untyped-def]
    form = chat.inbound_form(web.settings, Address(channel, phone), body, sid=sid)  # type: ignore[arg-type]
    response = chat.post(web.settings, web.url, chat.MESSAGES_PATH, form)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    replies = read_reply_twiml(response.content)
    return form, replies


def _callback(web: TwilioWeb, action: str, **form: str) -> int:
    """Post a status callback to `action` as Twilio does (signed over the full URL)."""
    signature = RequestValidator(TOKEN).compute_signature(action, form)
    parts = urlsplit(action)
    response = requests.post(
        f"{web.url}{parts.path}?{parts.query}",
        data=form,
        headers={"X-Twilio-Signature": signature},
        timeout=10,
    )
    return response.status_code


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
def test_segunda_via_comes_back_as_twiml_and_the_callbacks_record_each_sid(
    stack: Stack, twilio_web: TwilioWeb, channel: str
) -> None:
    _, phone = new_debtor(stack.database, pix_key="cobranca@loja.com.br")
    form, replies = _say(twilio_web, phone, "kd o boleto desse mes? preciso pagar hj", channel=channel)
    bodies = [r.body for r in replies]
    assert any("Loja Integração Ltda (CNPJ" in b for b in bodies) and any("R$ 259,90" in b for b in bodies)
    assert LINE in "\n".join(bodies)
    if channel == "whatsapp":
        assert any(r.media for r in replies)  # the Pix QR code / barcode images ride along
    else:
        assert all(not r.media and len(r.body) <= twilio_web.settings.sms_part_max_chars for r in replies)
    assert twilio_web.standin.to(phone) == []  # nothing through the API
    with stack.database.session() as s:
        rows = s.scalars(
            select(Message)
            .where(Message.direction == Direction.OUTBOUND, Message.id.in_([r.reply_id for r in replies]))
            .order_by(Message.id)
        ).all()
        assert [m.body for m in rows] == bodies and {m.status for m in rows} == {MessageStatus.SENDING}
        inbound = s.scalar(select(Message).where(Message.provider_sid == form["MessageSid"]))
        assert inbound is not None and inbound.processing == Processing.DONE

    sids = {r.reply_id: chat.new_sid() for r in replies}
    # What Twilio does once it has read the response: a callback per message, then more as they move on.
    for reply, status in [*((r, "sent") for r in replies), (replies[0], "delivered")]:
        sid = sids[reply.reply_id]
        assert _callback(twilio_web, reply.action, MessageSid=sid, MessageStatus=status) == 200
    with stack.database.session() as s:
        recorded = {
            m.id: (m.provider_sid, m.status) for m in s.scalars(select(Message).where(Message.id.in_(sids)))
        }
    assert {i: sid for i, (sid, _) in recorded.items()} == sids
    assert recorded[replies[0].reply_id][1] == MessageStatus.DELIVERED
    assert {status for i, (_, status) in recorded.items() if i != replies[0].reply_id} <= {MessageStatus.SENT}


def test_a_retried_delivery_gets_an_empty_response(stack: Stack, twilio_web: TwilioWeb) -> None:
    _, phone = new_debtor(stack.database)
    sid = chat.new_sid()
    _, first = _say(twilio_web, phone, "oi, bom dia", sid=sid)
    _, again = _say(twilio_web, phone, "oi, bom dia", sid=sid)
    assert first and again == []


def test_more_than_ten_replies_go_through_the_api_in_order(stack: Stack, twilio_web: TwilioWeb) -> None:
    debtor_id, phone = new_debtor(stack.database, pix_key="cobranca@loja.com.br")
    with stack.database.session() as s:  # three open invoices, over SMS in 160-character parts
        first = s.scalars(select(Invoice).where(Invoice.debtor_id == debtor_id)).one()
        for n in (1, 2):
            s.add(another_invoice(first, n))
    form, replies = _say(twilio_web, phone, "quero a segunda via dos boletos", channel="sms")
    assert replies == []
    sent = twilio_web.standin.to(phone)
    with stack.database.session() as s:
        inbound = s.scalar(select(Message).where(Message.provider_sid == form["MessageSid"]))
        assert inbound is not None
        rows = s.scalars(
            select(Message).where(Message.in_reply_to_id == inbound.id).order_by(Message.id)
        ).all()
    assert len(rows) > 10
    assert [m["body"] for m in sent] == [m.body for m in rows]  # every one, once, in order
    assert [m.provider_sid for m in rows] == [m["sid"] for m in sent]
    assert all(m.status == MessageStatus.QUEUED for m in rows)  # what the stand-in answered


def another_invoice(invoice: Invoice, n: int) -> Invoice:
    """Another open invoice of the same debtor and creditor."""
    return Invoice(
        creditor_id=invoice.creditor_id,
        debtor_id=invoice.debtor_id,
        external_ref=f"{invoice.external_ref}-{n}",
        amount_cents=invoice.amount_cents + n * 1000,
        due_date=date.today() - timedelta(days=3 + n),
        pix_code=invoice.pix_code,
        boleto_line=invoice.boleto_line,
        payment_url=invoice.payment_url,
    )
