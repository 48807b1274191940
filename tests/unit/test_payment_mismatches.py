"""Payment confirmations that do not match the charge (issue 14 §6): each becomes a case for the team,
collection is adjusted, and what cannot be stored is refused with a 400 (webhook) or a line error (file).

Webhook tests go through the Flask test client with a valid signature; reminder tests run the real
planner and dispatcher; file tests run the real importer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.agreements import lifecycle, offers
from bot.answers import claims
from bot.config import Settings, load_settings, override
from bot.db import Database
from bot.imports import import_payments
from bot.models import (
    PAYMENT_REVIEW,
    Agreement,
    AgreementStatus,
    AuditLog,
    Case,
    CaseKind,
    CaseStatus,
    Channel,
    Conversation,
    Creditor,
    Debtor,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceStatus,
    OutboxEntry,
    Payment,
)
from bot.payments import charges, confirmations, providers
from bot.payments.providers import Confirmation
from tests.conftest import PHONE, People
from tests.unit.conftest import FakeSender, run
from tests.unit.test_reminders import CADENCE, DUE, at
from tests.unit.test_reminders import run as run_reminders
from webhooks import create_app

SECRET = "payment-webhook-secret-0123456789"
CNPJ_SHOWN = "11.222.333/0001-81"
PAID_AT = "2026-11-23T10:00:00-03:00"


@pytest.fixture
def pay_settings(settings: Settings) -> Settings:
    return override(settings, payment_webhook_secret=SECRET)


@pytest.fixture
def pay_app(pay_settings: Settings, db: Database, services, redis_conn) -> Flask:  # type: ignore[no-untyped-def]
    services.settings = pay_settings
    app = create_app(pay_settings)
    app.extensions["regua_services"] = services
    return app


def _confirm(app: Flask, payload: dict):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return app.test_client().post(
        "/webhooks/payments/default",
        data=body,
        content_type="application/json",
        headers={providers.SIGNATURE_HEADER: providers.sign(SECRET, body)},
    )


def _payment(ident: str, reference: str, amount_cents: int) -> dict:
    return {
        "id": ident,
        "reference": reference,
        "creditor_cnpj": CNPJ_SHOWN,
        "amount_cents": amount_cents,
        "paid_at": PAID_AT,
    }


def _outcome(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"][0]["outcome"]


def _invoice(session: Session, ref: str) -> Invoice:
    return session.scalars(select(Invoice).where(Invoice.external_ref == ref)).one()


def _cases(session: Session, kind: CaseKind) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.kind == kind).order_by(Case.id)))


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _agreement_over_f1(db: Database, people: People, amounts: tuple[int, ...] = (8000, 7990)) -> int:
    """An active agreement over F-1 (now `in_agreement`), one instalment per amount; returns its id."""
    with db.session() as s:
        f1 = _invoice(s, "F-1")
        f1.status = InvoiceStatus.IN_AGREEMENT
        agreement = Agreement(
            creditor_id=people.creditor_id,
            debtor_id=people.debtor_id,
            debt_cents=f1.amount_cents,
            total_cents=sum(amounts),
            invoices=[f1],
        )
        today = datetime.now(UTC).date()
        for number, amount in enumerate(amounts, start=1):
            agreement.instalments.append(
                Instalment(number=number, amount_cents=amount, due_date=today + timedelta(days=30 * number))
            )
        s.add(agreement)
        s.flush()
        return agreement.id


# ---- partial payments -------------------------------------------------------------------------------------


def test_a_partial_payment_opens_one_case_and_holds_the_invoice_instead_of_asking_the_full_amount(
    pay_app: Flask, pay_settings: Settings, db: Database, people: People
) -> None:
    assert _outcome(_confirm(pay_app, _payment("evt-1", "F-1", 5000))) == "partial"
    assert _outcome(_confirm(pay_app, _payment("evt-1", "F-1", 5000))) == "duplicate"  # the same payment
    with db.session() as s:
        f1 = _invoice(s, "F-1")
        assert f1.status == InvoiceStatus.OPEN and f1.pause_reason == PAYMENT_REVIEW
        (case,) = _cases(s, CaseKind.PARTIAL_PAYMENT)
        payment = s.scalars(select(Payment)).one()
        assert (case.status, case.invoice_id, case.payment_id) == (CaseStatus.OPEN, f1.id, payment.id)
        assert case.evidence == [
            {"payment_id": payment.id, "provider": "default", "reference": "F-1", "amount_cents": 5000,
             "due_cents": 15990}
        ]  # fmt: skip
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "case.partial_payment")).one()
        assert audit.details["case"] == case.id
        # Neither the chat ("segunda via") nor a renegotiation offers the full amount of a held invoice.
        today = datetime.now(UTC).date()
        offered = charges.open_charges(s, people.debtor_id, today, charges.provider_for(pay_settings))
        assert [c.reference for c in offered] == ["F-2"]
        assert [i.external_ref for i in offers.open_debt(s, people.debtor_id, today)[f1.creditor_id]] == [
            "F-2"
        ]

    # A second partial payment of the same invoice joins the open case: one case per charge and kind.
    assert _outcome(_confirm(pay_app, _payment("evt-2", "F-1", 3000))) == "partial"
    with db.session() as s:
        (case,) = _cases(s, CaseKind.PARTIAL_PAYMENT)
        assert [e["amount_cents"] for e in case.evidence] == [5000, 3000]


def test_a_ja_paguei_claim_does_not_turn_a_held_invoice_into_a_five_day_pause(
    pay_app: Flask, db: Database, people: People
) -> None:
    assert _outcome(_confirm(pay_app, _payment("evt-1", "F-1", 5000))) == "partial"
    with db.session() as s:
        conversation = Conversation(channel=Channel.WHATSAPP, address=PHONE, debtor_id=people.debtor_id)
        s.add(conversation)
        s.flush()
        claims.claim_paid(s, conversation, None)
        f1 = _invoice(s, "F-1")
        assert (f1.pause_reason, f1.collection_paused_until) == (PAYMENT_REVIEW, None)


@pytest.fixture
def campaign(db: Database) -> dict[str, int]:
    """A creditor on the reminder test cadence; Ana with invoice A-1 due on DUE, Bruno with B-1."""
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja Exemplo Ltda", cnpj="11222333000181", contact_channel="SAC", cadence_yaml=CADENCE
        )
        consent = datetime(2026, 1, 1, tzinfo=UTC)
        ana = Debtor(name="Ana Lima", cpf="52998224725", phone="+5511987654321", state="SP",
                     timezone="America/Sao_Paulo", whatsapp_consent_at=consent)  # fmt: skip
        bruno = Debtor(name="Bruno Reis", cpf="11144477735", phone="+5568999887766", state="AC",
                       timezone="America/Rio_Branco")  # fmt: skip
        s.add_all([creditor, ana, bruno])
        for ref, debtor in (("A-1", ana), ("B-1", bruno)):
            s.add(
                Invoice(creditor=creditor, debtor=debtor, external_ref=ref, amount_cents=15000, due_date=DUE)
            )
        s.flush()
        return {"creditor": creditor.id, "ana": ana.id, "bruno": bruno.id}


def _apply(db: Database, settings: Settings, ident: str, reference: str, amount_cents: int) -> str:
    with db.session() as s:
        confirmation = Confirmation(ident, reference, None, amount_cents, datetime(2026, 12, 1, tzinfo=UTC))
        return confirmations.apply(s, settings, "default", confirmation).outcome


def test_after_a_partial_payment_no_reminder_asks_for_the_full_amount(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    assert _apply(db, settings, "evt-1", "A-1", 5000) == "partial"
    sender = FakeSender()
    stats = run_reminders(db, settings, sender, at(DUE - timedelta(days=3), 10))
    assert stats.reasons["payment_review"] == 1
    assert [r.to for r in sender.sent] == ["+5568999887766"]  # Bruno only; Ana's invoice is held

    # The team settles the remainder with the creditor and resumes collection: reminders go out again.
    with db.session() as s:
        (case,) = _cases(s, CaseKind.PARTIAL_PAYMENT)
        claims.resolve(s, case, actor="agent:test", resolution="saldo acertado", resume_collection=True)
    run_reminders(db, settings, sender, at(DUE + timedelta(days=1), 10))
    assert "+5511987654321" in [r.to for r in sender.sent]


# ---- payments of invoices in an agreement, or cancelled ---------------------------------------------------


def test_paying_an_invoice_in_an_agreement_opens_a_case_and_holds_the_instalments(
    pay_app: Flask, pay_settings: Settings, db: Database, people: People
) -> None:
    agreement_id = _agreement_over_f1(db, people)
    assert _outcome(_confirm(pay_app, _payment("evt-1", "F-1", 15990))) == "on_agreement"
    with db.session() as s:
        agreement = s.get_one(Agreement, agreement_id)
        assert _invoice(s, "F-1").status == InvoiceStatus.IN_AGREEMENT  # not flipped to paid blindly
        assert agreement.status == AgreementStatus.ACTIVE and agreement.pause_reason == PAYMENT_REVIEW
        assert [i.status for i in agreement.instalments] == [InstalmentStatus.OPEN, InstalmentStatus.OPEN]
        (case,) = _cases(s, CaseKind.PAYMENT_ON_AGREEMENT)
        assert (case.invoice_id, case.agreement_id) == (_invoice(s, "F-1").id, agreement_id)
        # Nothing of the agreement is offered, and lateness meanwhile does not break it.
        today = datetime.now(UTC).date()
        offered = charges.open_charges(s, people.debtor_id, today, charges.provider_for(pay_settings))
        assert [c.reference for c in offered] == ["F-2"]
        assert lifecycle.break_overdue(s, today + timedelta(days=120)) == []

        claims.resolve(s, case, actor="agent:test", resolution="pago por engano", resume_collection=True)
        assert agreement.pause_reason is None


def test_the_instalments_of_a_held_agreement_get_no_reminders(
    db: Database, settings: Settings, campaign: dict[str, int]
) -> None:
    with db.session() as s:
        a1 = _invoice(s, "A-1")
        a1.status = InvoiceStatus.IN_AGREEMENT
        agreement = Agreement(creditor_id=campaign["creditor"], debtor_id=campaign["ana"], debt_cents=15000,
                              total_cents=15000, invoices=[a1])  # fmt: skip
        agreement.instalments.append(Instalment(number=1, amount_cents=15000, due_date=DUE))
        s.add(agreement)
    assert _apply(db, settings, "evt-1", "A-1", 15000) == "on_agreement"
    sender = FakeSender()
    stats = run_reminders(db, settings, sender, at(DUE - timedelta(days=3), 10))
    assert stats.reasons["payment_review"] == 1
    assert [r.to for r in sender.sent] == ["+5568999887766"]
    with db.session() as s:
        held = s.scalars(select(OutboxEntry).where(OutboxEntry.instalment_id.is_not(None))).one()
        assert held.note == "payment_review"


def test_a_partial_instalment_payment_holds_its_agreement(
    pay_app: Flask, db: Database, people: People
) -> None:
    agreement_id = _agreement_over_f1(db, people)
    assert _outcome(_confirm(pay_app, _payment("evt-1", f"A{agreement_id}P1", 1000))) == "partial"
    with db.session() as s:
        agreement = s.get_one(Agreement, agreement_id)
        assert agreement.pause_reason == PAYMENT_REVIEW
        (case,) = _cases(s, CaseKind.PARTIAL_PAYMENT)
        assert (case.agreement_id, case.invoice_id, case.evidence[0]["due_cents"]) == (
            agreement_id,
            None,
            8000,
        )


def test_paying_a_cancelled_invoice_opens_a_case_and_leaves_it_cancelled(
    pay_app: Flask, db: Database, people: People
) -> None:
    with db.session() as s:
        _invoice(s, "F-2").status = InvoiceStatus.CANCELLED
    assert _outcome(_confirm(pay_app, _payment("evt-1", "F-2", 20000))) == "on_cancelled"
    with db.session() as s:
        f2 = _invoice(s, "F-2")
        assert f2.status == InvoiceStatus.CANCELLED and f2.paid_at is None
        (case,) = _cases(s, CaseKind.PAYMENT_ON_CANCELLED)
        assert case.invoice_id == f2.id and case.evidence[0]["amount_cents"] == 20000
        assert _count(s, Payment) == 1


def test_paying_an_instalment_of_a_broken_agreement_opens_a_case(
    pay_app: Flask, db: Database, people: People
) -> None:
    agreement_id = _agreement_over_f1(db, people)
    with db.session() as s:
        agreement = s.get_one(Agreement, agreement_id)
        agreement.status = AgreementStatus.BROKEN
        for instalment in agreement.instalments:
            instalment.status = InstalmentStatus.CANCELLED
    assert _outcome(_confirm(pay_app, _payment("evt-1", f"A{agreement_id}P2", 7990))) == "on_cancelled"
    with db.session() as s:
        assert s.get_one(Agreement, agreement_id).instalments[1].status == InstalmentStatus.CANCELLED
        assert [c.agreement_id for c in _cases(s, CaseKind.PAYMENT_ON_CANCELLED)] == [agreement_id]


# ---- second payments ---------------------------------------------------------------------------------------


def test_a_second_payment_of_a_paid_invoice_is_recorded_and_flagged_for_a_refund(
    pay_app: Flask, db: Database, people: People
) -> None:
    assert _outcome(_confirm(pay_app, _payment("pix-1", "F-1", 16500))) == "paid"
    assert _outcome(_confirm(pay_app, _payment("boleto-1", "F-1", 16500))) == "already_paid"
    assert _outcome(_confirm(pay_app, _payment("boleto-1", "F-1", 16500))) == "duplicate"
    with db.session() as s:
        f1 = _invoice(s, "F-1")
        assert f1.status == InvoiceStatus.PAID and f1.pause_reason is None
        second = s.scalars(select(Payment).where(Payment.external_id == "boleto-1")).one()
        (case,) = _cases(s, CaseKind.DUPLICATE_PAYMENT)
        assert (case.payment_id, case.invoice_id) == (second.id, f1.id)
        assert _count(s, Payment) == 2


# ---- what cannot be stored ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [10**20, 10**12, -100, 0, 1.5, "15990", True])
def test_an_amount_that_cannot_be_stored_is_refused_with_a_400_and_nothing_is_stored(
    pay_app: Flask, db: Database, people: People, amount: object
) -> None:
    good = _payment("evt-ok", "F-2", 20000)
    response = _confirm(
        pay_app, {"payments": [good, {**_payment("evt-bad", "F-1", 0), "amount_cents": amount}]}
    )
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert message == (
        "Confirmação de pagamento inválida: amount_cents deve ser um número inteiro de centavos, "
        "de 1 a 999999999999."
    )
    with db.session() as s:
        assert _count(s, Payment) == 0 and _count(s, Case) == 0
        assert _invoice(s, "F-2").status == InvoiceStatus.OPEN


def test_two_long_payment_ids_are_never_cut_into_one(pay_app: Flask, db: Database, people: People) -> None:
    prefix = "E" * 100
    first = _confirm(pay_app, _payment(prefix + "-pix", "F-1", 5000))
    assert first.status_code == 400
    assert first.get_json()["message"] == (
        "Confirmação de pagamento inválida: id tem 104 caracteres; o máximo é 100."
    )
    assert _confirm(pay_app, _payment(prefix + "-boleto", "F-1", 5000)).status_code == 400
    with db.session() as s:
        assert _count(s, Payment) == 0
    assert _outcome(_confirm(pay_app, _payment(prefix, "F-1", 16500))) == "paid"  # 100 fit exactly
    with db.session() as s:
        assert s.scalars(select(Payment.external_id)).one() == prefix


# ---- the payments file -------------------------------------------------------------------------------------


def test_the_payments_file_routes_mismatches_to_cases_and_refuses_amounts_it_cannot_store(
    db: Database, people: People, tmp_path: Path
) -> None:
    agreement_id = _agreement_over_f1(db, people)
    with db.session() as s:
        s.add(Invoice(creditor_id=people.creditor_id, debtor_id=people.debtor_id, external_ref="F-9",
                      amount_cents=1000, due_date=DUE, status=InvoiceStatus.CANCELLED))  # fmt: skip
    path = tmp_path / "pagamentos.csv"
    lines = [
        "referencia;valor;data_pagamento;id",
        "F-2;1000000000000000000,00;10/03/2025;P1",  # 2: 10**20 centavos
        "F-2;10000000000,00;10/03/2025;P2",  # 3: just above the maximum
        "F-2;50,00;10/03/2025;P3",  # 4: partial
        "F-1;159,90;10/03/2025;P4",  # 5: F-1 is in an agreement
        "F-9;10,00;10/03/2025;P5",  # 6: cancelled
        "F-0;50,00;10/03/2025;P6",  # 7: already paid
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({"REGUA_ENV": "test", "REGUA_VAR_DIR": str(tmp_path / "var"),
                              "SECRET_KEY": "test-secret-key-0123456789"})  # fmt: skip
    report = import_payments(db, path, None, settings=settings)
    errors = {e.line: e.reason for e in report.errors}
    assert errors == {
        2: "valor acima do máximo aceito (R$ 9.999.999.999,99)",
        3: "valor acima do máximo aceito (R$ 9.999.999.999,99)",
    }
    with db.session() as s:
        by_kind = {kind: _cases(s, kind) for kind in CaseKind}
        assert [c.invoice_id for c in by_kind[CaseKind.PARTIAL_PAYMENT]] == [_invoice(s, "F-2").id]
        assert [c.agreement_id for c in by_kind[CaseKind.PAYMENT_ON_AGREEMENT]] == [agreement_id]
        assert [c.invoice_id for c in by_kind[CaseKind.PAYMENT_ON_CANCELLED]] == [_invoice(s, "F-9").id]
        assert [c.invoice_id for c in by_kind[CaseKind.DUPLICATE_PAYMENT]] == [_invoice(s, "F-0").id]
        assert _invoice(s, "F-1").status == InvoiceStatus.IN_AGREEMENT
        assert _invoice(s, "F-9").status == InvoiceStatus.CANCELLED
        assert _invoice(s, "F-2").pause_reason == PAYMENT_REVIEW
        assert _count(s, Payment) == 4
        on_agreement = by_kind[CaseKind.PAYMENT_ON_AGREEMENT][0].id
        cancelled = by_kind[CaseKind.PAYMENT_ON_CANCELLED][0].id
    warnings = {w.line: w.reason for w in report.warnings}
    assert warnings[5] == (
        "A fatura F-1 está em um acordo; o pagamento de R$ 159,90 foi registrado sem baixa e enviado à "
        f"equipe (caso {on_agreement})"
    )
    assert warnings[6] == (
        "A fatura F-9 está cancelada; o pagamento de R$ 10,00 foi registrado sem baixa e enviado à equipe "
        f"(caso {cancelled})"
    )


# ---- the agents' queue -------------------------------------------------------------------------------------


def test_payment_cases_are_listed_with_their_kind_in_portuguese(  # type: ignore[no-untyped-def]
    cli_env, db: Database, people: People, settings: Settings
) -> None:
    with db.session() as s:
        _invoice(s, "F-2").status = InvoiceStatus.CANCELLED
    for ident, reference, amount in (("e1", "F-1", 5000), ("e2", "F-2", 20000), ("e3", "F-0", 5000)):
        _apply(db, settings, ident, reference, amount)
    listing = run("cases", "list").output
    assert "pagamento parcial" in listing and "pagamento 1: R$ 50,00 de R$ 159,90" in listing
    assert "pagamento de cobrança cancelada" in listing and "fatura F-2" in listing
    assert "pagamento em duplicidade" in listing and "fatura F-0" in listing
    only = run("cases", "list", "--kind", "parcial").output
    assert "pagamento parcial" in only and "duplicidade" not in only
