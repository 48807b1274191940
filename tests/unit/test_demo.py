"""Tests for bot.demo: a deterministic, realistic data set loaded through the importer, idempotently."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.demo import DEMO_CREDITOR_CNPJ, DEMO_NOTE, load_demo, write_demo_files
from bot.documents import is_valid_cnpj, is_valid_cpf
from bot.imports import import_debtors
from bot.models import (
    AuditLog,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Direction,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
)
from bot.money import parse_amount
from bot.payments import boleto, pix
from bot.phones import is_mobile

TODAY = date(2025, 6, 10)


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) for model in (Creditor, Debtor, Invoice)
        )


def test_files_are_deterministic_for_a_seed_and_a_date(tmp_path: Path) -> None:
    first = write_demo_files(tmp_path / "a", debtors=40, seed=7, today=TODAY)
    second = write_demo_files(tmp_path / "b", debtors=40, seed=7, today=TODAY)
    other_seed = write_demo_files(tmp_path / "c", debtors=40, seed=8, today=TODAY)
    other_day = write_demo_files(tmp_path / "d", debtors=40, seed=7, today=TODAY + timedelta(days=1))
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()
    assert first[0].read_bytes() != other_seed[0].read_bytes()
    assert first[1].read_bytes() != other_day[1].read_bytes()
    # As an Excel pt-BR export: BOM, ';', CRLF.
    raw = first[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfNome;CPF;Telefone") and b"\r\n" in raw


def test_demo_data_set_is_realistic(db: Database, tmp_path: Path) -> None:
    summary = load_demo(db, debtors=120, seed=42, today=TODAY, directory=tmp_path)
    assert summary.loaded and summary.debtors and summary.invoices
    assert summary.debtors.ok and summary.invoices.ok
    assert not summary.debtors.warnings and not summary.invoices.warnings
    assert summary.debtors.created == 120
    assert 120 <= summary.invoices.created <= 360
    assert counts(db) == (1, 120, summary.invoices.created)

    with db.session() as session:
        creditor = session.scalars(select(Creditor)).one()
        debtors = list(session.scalars(select(Debtor)))
        invoices = list(session.scalars(select(Invoice)))
    assert is_valid_cnpj(creditor.cnpj) and creditor.cnpj == DEMO_CREDITOR_CNPJ
    assert creditor.trade_name == "Magazine Horizonte" and "0800" in creditor.contact_channel

    assert all(is_valid_cpf(d.cpf) and is_mobile(d.phone) and d.notes == DEMO_NOTE for d in debtors)
    assert len({d.state for d in debtors}) >= 10
    zones = {d.timezone for d in debtors}
    assert {"America/Sao_Paulo", "America/Manaus", "America/Rio_Branco"} <= zones
    assert 5 <= sum(d.phone_secondary is not None for d in debtors) <= 40
    with_whatsapp = sum(d.whatsapp_consent_at is not None for d in debtors)
    assert 0.7 * len(debtors) <= with_whatsapp < len(debtors)
    assert 0 < sum(d.sms_consent_at is not None for d in debtors) < len(debtors)
    assert any(" " in d.name and any(c in d.name for c in "ãáâçéêíóôõú") for d in debtors)

    statuses = {status: sum(i.status == status for i in invoices) for status in InvoiceStatus}
    assert statuses[InvoiceStatus.PAID] > 0 and statuses[InvoiceStatus.OPEN] > len(invoices) * 0.7
    open_invoices = [i for i in invoices if i.status == InvoiceStatus.OPEN]
    assert any(i.due_date < TODAY for i in open_invoices) and any(i.due_date >= TODAY for i in open_invoices)
    assert all(i.paid_at is not None for i in invoices if i.status == InvoiceStatus.PAID)
    assert len({i.amount_cents for i in invoices}) > len(invoices) / 2
    assert all(i.boleto_line and len(i.boleto_line) == 47 and i.pix_code for i in open_invoices)
    assert all(i.payment_url.startswith("https://pagamento.example.com/") for i in open_invoices)


def test_demo_is_idempotent_and_reset_recreates_it(db: Database, tmp_path: Path) -> None:
    first = load_demo(db, debtors=30, seed=1, today=TODAY, directory=tmp_path)
    loaded = counts(db)
    with db.session() as session:
        first_ids = sorted(session.scalars(select(Debtor.id)))

    again = load_demo(db, debtors=30, seed=1, today=TODAY, directory=tmp_path)
    assert not again.loaded and again.debtors is None
    assert "já estão carregados" in str(again) and "--reset" in str(again)
    assert counts(db) == loaded

    # A real debtor, not part of the demo, survives a reset.
    real = tmp_path / "real.csv"
    real.write_text("nome;cpf;telefone\nCliente Real;473.847.228-37;(11) 98765-4321\n", encoding="utf-8")
    import_debtors(db, real)

    reset = load_demo(db, debtors=30, seed=1, today=TODAY, directory=tmp_path, reset=True)
    assert reset.loaded and reset.removed
    assert "recriados" in str(reset)
    assert counts(db) == (loaded[0], loaded[1] + 1, loaded[2])
    assert reset.invoices is not None and reset.invoices.created == first.invoices.created  # type: ignore[union-attr]
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Debtor.name == "Cliente Real")) == 1
        assert sorted(session.scalars(select(Debtor.id).where(Debtor.notes == DEMO_NOTE))) != first_ids
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"creditor.created", "import.debtors", "import.invoices"} <= actions


def test_reset_removes_the_demo_debtors_conversations(db: Database, tmp_path: Path) -> None:
    load_demo(db, debtors=5, seed=2, today=TODAY, directory=tmp_path)
    with db.session() as session:
        demo_debtor = session.scalars(select(Debtor).limit(1)).one()
        conversation = Conversation(
            debtor_id=demo_debtor.id, channel=Channel.WHATSAPP, address=demo_debtor.phone
        )
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                channel=Channel.WHATSAPP,
                body="oi",
                status=MessageStatus.RECEIVED,
            )
        )
    load_demo(db, debtors=5, seed=2, today=TODAY, directory=tmp_path, reset=True)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert counts(db)[1] == 5


def test_load_demo_rejects_zero_debtors(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_demo(db, debtors=0, directory=tmp_path)


@pytest.mark.parametrize("today", [TODAY, date(2025, 2, 1)])  # the second spans the 2025 factor reset
def test_demo_payment_codes_are_valid_and_match_their_invoice(tmp_path: Path, today: date) -> None:
    # Check digits and CRCs are tested against public vectors in test_boleto.py and test_pix.py; here
    # every generated code must read back as the invoice it belongs to.
    _, invoices_path = write_demo_files(tmp_path, debtors=60, seed=5, today=today)
    with invoices_path.open(encoding="utf-8-sig", newline="") as source:
        rows = [row for row in csv.DictReader(source, delimiter=";") if row["Status"] == "aberta"]
    assert len(rows) > 40
    assert any(datetime.strptime(r["Vencimento"], "%d/%m/%Y").date() < date(2025, 2, 22) for r in rows)
    for row in rows:
        amount = parse_amount(row["Valor"])
        due = datetime.strptime(row["Vencimento"], "%d/%m/%Y").date()
        slip = boleto.parse(row["Linha digitável"], today=today)
        assert (slip.kind, slip.bank_code, slip.amount_cents, slip.due_date) == ("bank", "001", amount, due)
        assert boleto.format_linha(slip) == row["Linha digitável"]
        code = pix.parse_brcode(row["Pix copia e cola"])
        assert (code["name"], code["city"]) == ("MAGAZINE HORIZONTE", "SAO PAULO")
        assert (code["amount_cents"], code["txid"]) == (amount, row["Referência"].replace("-", ""))
