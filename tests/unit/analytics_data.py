"""The hand-built data set of the analytics tests: two creditors, five debtors, six reminders in March 2026.

Times are UTC (Brasília is UTC-3, so March 2026 in Brasília is 2026-03-01 03:00 to 2026-04-01 03:00 UTC).
What each reminder ("contact") led to, which the tests' expected numbers follow from:

Contacts (creditor, step, channel, variant, debtor's segment; message) and what each led to:

- c1 (i1, d1): A, d1, whatsapp, a, varejo; m1 read. Reply 1 h later, page opened, Pix copied, i1 paid
  5 days later.
- c2 (i2, d2): A, d1, whatsapp, b, varejo; m2 delivered. Reply 48 h later (too late), page opened, line
  copied, promise (kept), i2 paid 8 days later (too late).
- c3 (i3, d3): A, d1, sms, no variant, "alto valor"; m3 delivered, 2 segments. Reply and complaint
  (handoff), agreement (broken).
- c4 (i4, d4): A, d1, sms, no variant, no segment; m4 delivered, segments unknown. Reply, opt-out,
  handoff (asked).
- c5 (i1, d1): A, d5, whatsapp, a, varejo; m5 read, 20 h after m1 in the same conversation (no new
  WhatsApp conversation). Reply 1 h later, page, Pix copied, i1 paid (last touch: its R$ 100 is c5's).
- c6 (i5, d5): B, d1, whatsapp, a, no segment; m6 undelivered. Promise (open), i5 paid 2 days later.

Not contacts of March: c7 (i2, step d-3, February) and c8 (i3, step d5, still pending).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.db import Database
from bot.models import (
    Agreement,
    AgreementStatus,
    AuditLog,
    Conversation,
    Creditor,
    Debtor,
    Direction,
    Invoice,
    Message,
    MessageStatus,
    OptOutEvent,
    OutboxEntry,
    PageEvent,
    Payment,
    PaymentLink,
    PaymentLinkView,
    PaymentPageEvent,
    PaymentPromise,
    agreement_invoices,
)

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A moment of 2026 in UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class DataSet:
    """Ids the tests filter by."""

    creditor_a: int
    creditor_b: int


def build(db: Database) -> DataSet:
    """Store the data set of the module docstring."""
    with db.session() as s:
        a = Creditor(legal_name="Loja A Ltda", cnpj="11111111000101", contact_channel="SAC A")
        b = Creditor(legal_name="Loja B Ltda", cnpj="22222222000102", contact_channel="SAC B")
        d1, d2, d3, d4, d5 = (
            Debtor(name=f"Pessoa {n}", cpf=f"0000000000{n}", phone=f"+551199999000{n}", segment=segment)
            for n, segment in ((1, "varejo"), (2, "varejo"), (3, "alto valor"), (4, None), (5, None))
        )
        s.add_all([a, b, d1, d2, d3, d4, d5])
        s.flush()

        def invoice(
            creditor: Creditor, debtor: Debtor, ref: str, cents: int, due: date, **kw: object
        ) -> Invoice:
            row = Invoice(
                creditor_id=creditor.id,
                debtor_id=debtor.id,
                external_ref=ref,
                amount_cents=cents,
                due_date=due,
                **kw,
            )
            s.add(row)
            return row

        # Due dates make the cure and roll table (test_analytics_portfolio): days past due on 1 March.
        i1 = invoice(a, d1, "I1", 10000, date(2026, 2, 20), status="paid", paid_at=at(7, 12, 10))  # D+9
        i2 = invoice(a, d2, "I2", 20000, date(2026, 2, 10), status="paid", paid_at=at(10, 15))  # D+19
        i3 = invoice(a, d3, "I3", 30000, date(2026, 1, 15), status="in_agreement")  # D+45
        i4 = invoice(a, d4, "I4", 5000, date(2026, 2, 25))  # D+4, D+34 on 31 March: rolls
        i5 = invoice(b, d5, "I5", 8000, date(2026, 2, 27), status="paid", paid_at=at(4, 12))  # D+2
        invoice(a, d4, "I6", 7000, date(2025, 11, 1))  # D+120: the last bucket never rolls
        invoice(a, d1, "I7", 7000, date(2026, 3, 20))  # not overdue on 1 March: not in the portfolio
        invoice(
            a, d2, "I8", 7000, date(2026, 1, 1), status="paid", paid_at=at(15, 12, month=2)
        )  # paid before
        invoice(a, d3, "I9", 7000, date(2026, 2, 1), status="cancelled")  # cancelled: left out
        invoice(a, d4, "I10", 7000, date(2026, 2, 14))  # D+15 (the bucket's last day), rolls
        invoice(a, d4, "I11", 7000, date(2026, 2, 13))  # D+16 (the next bucket's first day), rolls
        s.flush()

        conversations = {
            d: Conversation(channel=channel, address=d.phone, debtor_id=d.id)
            for d, channel in ((d1, "whatsapp"), (d2, "whatsapp"), (d3, "sms"), (d4, "sms"), (d5, "whatsapp"))
        }
        s.add_all(conversations.values())
        s.flush()

        def message(debtor: Debtor, channel: str, status: str, sent: datetime, **kw: object) -> Message:
            row = Message(
                conversation_id=conversations[debtor].id,
                direction=Direction.OUTBOUND,
                channel=channel,
                status=status,
                sent_at=sent,
                **kw,
            )
            s.add(row)
            return row

        def inbound(debtor: Debtor, when: datetime) -> None:
            s.add(
                Message(
                    conversation_id=conversations[debtor].id,
                    direction=Direction.INBOUND,
                    channel=conversations[debtor].channel,
                    status=MessageStatus.RECEIVED,
                    body="oi",
                    created_at=when,
                )
            )

        m1 = message(d1, "whatsapp", "read", at(2, 12), delivered_at=at(2, 12, 1), read_at=at(2, 12, 5))
        m2 = message(d2, "whatsapp", "delivered", at(2, 12), delivered_at=at(2, 12, 1))
        m3 = message(d3, "sms", "delivered", at(2, 12), delivered_at=at(2, 12, 1), segments=2)
        m4 = message(d4, "sms", "delivered", at(2, 12), delivered_at=at(2, 12, 1))
        m5 = message(d1, "whatsapp", "read", at(3, 8), read_at=at(3, 8, 30))
        m6 = message(d5, "whatsapp", "undelivered", at(2, 12), error_code=63024)
        m7 = message(d2, "whatsapp", "delivered", at(26, 12, month=2), delivered_at=at(26, 12, 1, month=2))
        s.flush()

        def contact(
            inv: Invoice, step: str, channel: str, variant: str | None, msg: Message | None, **kw: object
        ):
            s.add(
                OutboxEntry(
                    invoice_id=inv.id,
                    debtor_id=inv.debtor_id,
                    creditor_id=inv.creditor_id,
                    cadence="padrao",
                    step_id=step,
                    variant=variant,
                    send_on=date(2026, 3, 2),
                    channel=channel,
                    message_id=msg.id if msg else None,
                    sent_at=msg.sent_at if msg else None,
                    **kw,
                )
            )

        contact(i1, "d1", "whatsapp", "a", m1, status="sent")
        contact(i2, "d1", "whatsapp", "b", m2, status="sent")
        contact(i3, "d1", "sms", None, m3, status="sent")
        contact(i4, "d1", "sms", None, m4, status="sent")
        contact(i1, "d5", "whatsapp", "a", m5, status="sent")
        contact(i5, "d1", "whatsapp", "a", m6, status="failed")
        contact(i2, "d-3", "whatsapp", "b", m7, status="sent")  # February
        contact(i3, "d5", "sms", None, None, status="pending")  # not sent

        inbound(d1, at(2, 13))  # 1 h after c1
        inbound(d1, at(3, 9))  # 1 h after c5 (21 h after c1)
        inbound(d2, at(4, 12))  # 48 h after c2: too late for a reply to it
        inbound(d3, at(2, 15))  # the complaint
        inbound(d4, at(2, 18))  # "PARAR"
        inbound(d1, at(20, 10))  # weeks later: no reminder's reply

        l1 = PaymentLink(token="t1", invoice_id=i1.id, expires_at=at(30, 0, month=4))
        l2 = PaymentLink(token="t2", invoice_id=i2.id, expires_at=at(30, 0, month=4))
        s.add_all([l1, l2])
        s.flush()
        s.add_all(
            [
                PaymentLinkView(link_id=l1.id, opened_at=at(2, 14)),
                PaymentLinkView(link_id=l1.id, opened_at=at(7, 12)),
                PaymentLinkView(link_id=l2.id, opened_at=at(2, 11)),  # before c2: not its engagement
                PaymentLinkView(link_id=l2.id, opened_at=at(3, 10)),
                PaymentPageEvent(link_id=l1.id, kind=PageEvent.PIX_COPIED, occurred_at=at(7, 12, 5)),
                PaymentPageEvent(link_id=l2.id, kind=PageEvent.LINE_COPIED, occurred_at=at(3, 10, 1)),
            ]
        )

        s.add_all(
            [
                *(
                    Payment(
                        provider="pix",
                        external_id=ref,
                        creditor_id=inv.creditor_id,
                        invoice_id=inv.id,
                        amount_cents=inv.amount_cents,
                        paid_at=inv.paid_at,
                    )
                    for ref, inv in (("p1", i1), ("p2", i2), ("p3", i5))
                ),
                PaymentPromise(
                    debtor_id=d2.id,
                    creditor_id=a.id,
                    invoice_ids=[i2.id],
                    promised_on=date(2026, 3, 10),
                    amount_cents=20000,
                    status="kept",
                    created_at=at(4, 12, 5),
                ),
                PaymentPromise(
                    debtor_id=d5.id,
                    creditor_id=b.id,
                    invoice_ids=[i5.id],
                    promised_on=date(2026, 3, 12),
                    amount_cents=8000,
                    status="open",
                    created_by="agent",
                    created_at=at(3, 10),
                ),
            ]
        )
        agreement = Agreement(
            creditor_id=a.id,
            debtor_id=d3.id,
            status=AgreementStatus.BROKEN,
            debt_cents=30000,
            total_cents=30000,
            created_at=at(3, 9),
            broken_at=at(20, 9),
        )
        s.add(agreement)
        s.flush()
        s.execute(agreement_invoices.insert().values(agreement_id=agreement.id, invoice_id=i3.id))

        s.add_all(
            [
                OptOutEvent(
                    debtor_id=d4.id,
                    channel="sms",
                    address=d4.phone,
                    action="opt_out",
                    source="keyword",
                    created_at=at(2, 18, 1),
                ),
                OptOutEvent(  # an opt-in is not an opt-out
                    debtor_id=d2.id,
                    channel="sms",
                    address=d2.phone,
                    action="opt_in",
                    source="agent",
                    created_at=at(2, 13),
                ),
            ]
        )

        def handoff(debtor: Debtor, reason: str, when: datetime) -> None:
            s.add(
                AuditLog(
                    actor="bot",
                    action="conversation.handoff_requested",
                    entity_type="conversation",
                    entity_id=str(conversations[debtor].id),
                    details={"state": "waiting_agent", "reason": reason},
                    created_at=when,
                )
            )

        handoff(d3, "complaint", at(2, 15, 1))
        handoff(d4, "asked", at(2, 19))
        handoff(d1, "asked", at(20, 10, 1))  # weeks after c5: no reminder's handoff
        s.commit()
        return DataSet(a.id, b.id)
