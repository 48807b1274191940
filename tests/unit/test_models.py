"""The data model's rules, enforced by the database itself (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.db import Database
from bot.models import (
    AuditLog,
    Channel,
    Conversation,
    ConversationState,
    Creditor,
    Debtor,
    Direction,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
    OptOutAction,
    OptOutEvent,
)


def _creditor() -> Creditor:
    return Creditor(
        legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC 0800 000 0000"
    )


def _debtor(cpf: str = "52998224725") -> Debtor:
    return Debtor(name="Maria da Silva", cpf=cpf, phone="+5511987654321")


def test_invoice_round_trip_keeps_integer_centavos(db: Database) -> None:
    with db.session() as s:
        inv = Invoice(
            creditor=_creditor(),
            debtor=_debtor(),
            external_ref="F-1",
            amount_cents=123456,
            due_date=date(2026, 12, 10),
        )
        s.add(inv)
    with db.session() as s:
        loaded = s.scalars(select(Invoice)).one()
        assert loaded.amount_cents == 123456 and isinstance(loaded.amount_cents, int)
        assert loaded.status is InvoiceStatus.OPEN
        assert loaded.creditor.display_name == "Loja Exemplo Ltda"
        assert loaded.is_overdue(date(2026, 12, 11)) and not loaded.is_overdue(date(2026, 12, 10))


def test_invoice_ref_unique_per_creditor(db: Database) -> None:
    with db.session() as s:
        c, d = _creditor(), _debtor()
        s.add(Invoice(creditor=c, debtor=d, external_ref="F-1", amount_cents=100, due_date=date(2026, 1, 1)))
    with pytest.raises(IntegrityError), db.session() as s:
        c = s.scalars(select(Creditor)).one()
        d = s.scalars(select(Debtor)).one()
        s.add(Invoice(creditor=c, debtor=d, external_ref="F-1", amount_cents=200, due_date=date(2026, 1, 1)))


def test_amount_must_be_positive(db: Database) -> None:
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(
            Invoice(
                creditor=_creditor(),
                debtor=_debtor(),
                external_ref="F-0",
                amount_cents=0,
                due_date=date(2026, 1, 1),
            )
        )


def test_status_check_constraint_rejects_unknown_values(db: Database) -> None:
    with db.session() as s:
        s.add(
            Invoice(
                creditor=_creditor(),
                debtor=_debtor(),
                external_ref="F-2",
                amount_cents=1,
                due_date=date(2026, 1, 1),
            )
        )
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("UPDATE invoices SET status = 'forgiven'"))


def test_cpf_unique(db: Database) -> None:
    with db.session() as s:
        s.add(_debtor())
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(_debtor())


def test_consent_and_opt_out_per_channel() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    d = _debtor()
    assert not d.has_consent(Channel.WHATSAPP) and not d.opted_out(Channel.WHATSAPP)
    d.whatsapp_consent_at = now
    assert d.has_consent(Channel.WHATSAPP)
    d.whatsapp_opted_out_at = now + timedelta(days=1)
    assert d.opted_out(Channel.WHATSAPP) and not d.has_consent(Channel.WHATSAPP)
    assert not d.opted_out(Channel.SMS)
    d.whatsapp_consent_at = now + timedelta(days=2)  # consent given again after the opt-out
    assert d.has_consent(Channel.WHATSAPP)


def test_message_sid_unique_and_media_json(db: Database) -> None:
    with db.session() as s:
        conv = Conversation(debtor=_debtor(), channel=Channel.WHATSAPP, address="+5511987654321")
        s.add(conv)
        s.add(
            Message(
                conversation=conv,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                provider_sid="SM" + "1" * 32,
                body="oi",
                status=MessageStatus.RECEIVED,
                media=[{"url": "https://api.twilio.com/m/1", "content_type": "image/jpeg"}],
            )
        )
    with db.session() as s:
        msg = s.scalars(select(Message)).one()
        assert msg.media[0]["content_type"] == "image/jpeg"
        assert msg.conversation.state is ConversationState.BOT
    with pytest.raises(IntegrityError), db.session() as s:
        conv = s.scalars(select(Conversation)).one()
        s.add(
            Message(
                conversation=conv,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                provider_sid="SM" + "1" * 32,
                body="oi de novo",
                status=MessageStatus.RECEIVED,
            )
        )


def test_one_conversation_per_channel_and_address(db: Database) -> None:
    with db.session() as s:
        s.add(Conversation(channel=Channel.SMS, address="+5511987654321"))
        s.add(Conversation(channel=Channel.WHATSAPP, address="+5511987654321"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Conversation(channel=Channel.SMS, address="+5511987654321"))


def test_opt_out_event_and_audit_log(db: Database) -> None:
    with db.session() as s:
        d = _debtor()
        s.add(d)
        s.flush()
        s.add(
            OptOutEvent(
                debtor_id=d.id,
                channel=Channel.SMS,
                address=d.phone,
                action=OptOutAction.OPT_OUT,
                source="keyword",
            )
        )
        s.add(AuditLog(actor="cli", action="import.debtors", details={"created": 1}))
    with db.session() as s:
        assert s.scalars(select(OptOutEvent)).one().action is OptOutAction.OPT_OUT
        assert s.scalars(select(AuditLog)).one().details == {"created": 1}


def test_timestamps_are_timezone_aware(db: Database) -> None:
    with db.session() as s:
        s.add(_creditor())
    with db.session() as s:
        created = s.scalars(select(Creditor)).one().created_at
        # SQLite drops the offset on the way back; every value written is UTC, so attaching UTC is exact.
        assert created.tzinfo is not None or db.is_sqlite
