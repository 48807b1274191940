"""Test data for the LGPD tests: Ana, with a record in every table that can hold personal data, and
João, another person whose data must never be exported with hers nor touched by her erasure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection

from bot import optout
from bot.db import Database
from bot.models import (
    Agreement,
    AuditLog,
    Base,
    Case,
    CaseKind,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Direction,
    Instalment,
    Invoice,
    Message,
    MessageStatus,
    OptOutAction,
    OutboxEntry,
    Payment,
    PaymentLink,
    PaymentLinkView,
    Processing,
)

ANA_CPF = "52998224725"
ANA_PHONE = "+5511987654321"
ANA_SECOND_PHONE = "+5511912345678"
JOAO_CPF = "11144477735"
JOAO_PHONE = "+5568999887766"
# Everything that identifies Ana, in every form it could be stored in.
ANA_NEEDLES = ("Beatriz", "Lima", "529982247", "529.982", "87654321", "12345678", "ana.lima", "iPhone")
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/ACx/Messages/MMa/Media/MEa"


@dataclass
class Ids:
    ana: int
    joao: int
    creditor: int
    ana_invoice: int
    ana_conversation: int
    unlinked_conversation: int
    joao_conversation: int


def create(db: Database, *, when: datetime | None = None) -> Ids:
    """Ana and João, their invoices, conversations, Ana's opt-out, case, agreement, payment, link visit
    and pending reminder."""
    when = when or datetime.now(UTC)
    with db.session() as s:
        creditor = Creditor(legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC 0800")
        ana = Debtor(
            name="Ana Beatriz Lima", cpf=ANA_CPF, phone=ANA_PHONE, phone_secondary=ANA_SECOND_PHONE,
            whatsapp_id="551187654321", email="ana.lima@example.com", state="SP",
            notes="prefere contato à tarde (Ana Beatriz)", segment="varejo (indicação da Beatriz)",
            whatsapp_consent_at=when - timedelta(days=90),
            verified_at=when - timedelta(days=2), verified_phone=ANA_PHONE,
        )  # fmt: skip
        joao = Debtor(name="João Pereira", cpf=JOAO_CPF, phone=JOAO_PHONE, state="AC")
        s.add_all([creditor, ana, joao])
        invoice = Invoice(creditor=creditor, debtor=ana, external_ref="A-1", amount_cents=15990,
                          due_date=date.today() - timedelta(days=3), description="mensalidade")  # fmt: skip
        paid = Invoice(creditor=creditor, debtor=ana, external_ref="A-0", amount_cents=5000,
                       due_date=date.today() - timedelta(days=40), status="paid")  # fmt: skip
        joao_invoice = Invoice(creditor=creditor, debtor=joao, external_ref="J-1", amount_cents=7000,
                               due_date=date.today() - timedelta(days=3))  # fmt: skip
        s.add_all([invoice, paid, joao_invoice])
        s.flush()

        conversation = Conversation(debtor_id=ana.id, channel=Channel.WHATSAPP, address=ANA_PHONE,
                                    last_inbound_at=when)  # fmt: skip
        unlinked = Conversation(
            debtor_id=None, channel=Channel.SMS, address=ANA_SECOND_PHONE, last_inbound_at=when
        )
        joao_conversation = Conversation(debtor_id=joao.id, channel=Channel.SMS, address=JOAO_PHONE)
        s.add_all([conversation, unlinked, joao_conversation])
        s.flush()
        inbound = Message(
            conversation_id=conversation.id, direction=Direction.INBOUND, channel=Channel.WHATSAPP,
            provider_sid="SMana0001", body="Oi, sou a Ana Beatriz Lima, CPF 529.982.247-25",
            media=[{"url": MEDIA_URL, "content_type": "image/jpeg"}], status=MessageStatus.RECEIVED,
            processing=Processing.DONE,
        )  # fmt: skip
        outbound = Message(
            conversation_id=conversation.id, direction=Direction.OUTBOUND, channel=Channel.WHATSAPP,
            body="Olá, Ana Beatriz! Sua fatura de R$ 159,90 venceu.", content_variables={"1": "Ana Beatriz"},
            status=MessageStatus.FAILED, error_message=f"The 'To' number {ANA_PHONE} is not reachable",
        )  # fmt: skip
        unlinked_message = Message(
            conversation_id=unlinked.id, direction=Direction.INBOUND, channel=Channel.SMS,
            body="aqui é a Ana Beatriz de novo", status=MessageStatus.RECEIVED, processing=Processing.DONE,
        )  # fmt: skip
        joao_message = Message(
            conversation_id=joao_conversation.id, direction=Direction.INBOUND, channel=Channel.SMS,
            body="Oi, aqui é o João Pereira", status=MessageStatus.RECEIVED, processing=Processing.DONE,
        )  # fmt: skip
        s.add_all([inbound, outbound, unlinked_message, joao_message])
        s.flush()
        optout.record(s, channel=Channel.WHATSAPP, address=ANA_PHONE, action=OptOutAction.OPT_OUT,
                      source="keyword", debtor=ana, message_id=inbound.id)  # fmt: skip
        optout.record(s, channel=Channel.SMS, address=JOAO_PHONE, action=OptOutAction.OPT_OUT,
                      source="keyword", debtor=joao)  # fmt: skip
        s.add(
            Case(
                kind=CaseKind.PAYMENT_CLAIM,
                debtor_id=ana.id,
                invoice_id=invoice.id,
                conversation_id=conversation.id,
                message_id=inbound.id,
                evidence=[{"url": MEDIA_URL, "content_type": "image/jpeg"}],
                note="Ana Beatriz mandou o comprovante",
                resolution="pago por Ana Beatriz Lima",
            )
        )
        agreement = Agreement(creditor_id=creditor.id, debtor_id=ana.id, debt_cents=5000, total_cents=5000,
                              terms="À vista, R$ 50,00, com Loja Exemplo Ltda.")  # fmt: skip
        agreement.instalments.append(Instalment(number=1, amount_cents=5000, due_date=date.today()))
        s.add(agreement)
        link = PaymentLink(token="tok-ana-1", invoice_id=invoice.id, expires_at=when + timedelta(days=30))
        s.add(link)
        s.flush()
        s.add(PaymentLinkView(link_id=link.id, opened_at=when, user_agent="Mozilla/5.0 (iPhone da Ana)"))
        payment = Payment(provider="arquivo", external_id="P-1", creditor_id=creditor.id, invoice_id=paid.id,
                          amount_cents=5000, paid_at=when - timedelta(days=35),
                          details={"reference": "A-0"})  # fmt: skip
        s.add(payment)
        s.add(
            OutboxEntry(
                invoice_id=invoice.id,
                debtor_id=ana.id,
                creditor_id=creditor.id,
                cadence="padrao",
                step_id="depois",
                send_on=date.today(),
            )
        )
        s.add(AuditLog(actor="cli", action="import.debtors", details={"rows": 2}))
        s.flush()
        return Ids(
            ana.id, joao.id, creditor.id, invoice.id, conversation.id, unlinked.id, joao_conversation.id
        )


def all_text(conn: Connection) -> str:
    """Every value of every row of every table, as text (JSON documents included)."""
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in conn.execute(table.select()):
            for value in row:
                parts.append(
                    json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
                )
    return "\n".join(parts)
