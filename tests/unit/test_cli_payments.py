"""`regua creditor payments|policy`, `regua cases` and `regua handoff` through click's CliRunner."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.db import Database
from bot.models import (
    AgreementPolicy,
    AuditLog,
    Case,
    CaseKind,
    CaseStatus,
    Channel,
    Conversation,
    ConversationState,
    Creditor,
    Debtor,
    Invoice,
    utcnow,
)
from tests.conftest import PHONE, People
from tests.unit.conftest import run
from tests.unit.console_people import make_user

CNPJ = "11.222.333/0001-81"


def test_payment_settings_are_validated_and_saved(cli_env, db: Database, people: People) -> None:  # type: ignore[no-untyped-def]
    result = run("creditor", "payments", "--cnpj", CNPJ, "--pix-key", "cobranca@loja.com.br", "--fine", "2",
                 "--interest", "0.5", "--bank", "001", "--convenio", "1234567")  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.session() as s:
        creditor = s.get_one(Creditor, people.creditor_id)
        assert (creditor.pix_key, creditor.fine_bps, creditor.monthly_interest_bps) == (
            "cobranca@loja.com.br",
            200,
            50,
        )
        assert (creditor.boleto_bank_code, creditor.boleto_agreement) == ("001", "1234567")
    too_much = run("creditor", "payments", "--cnpj", CNPJ, "--fine", "10")
    assert too_much.exit_code != 0 and "CDC art. 52" in too_much.output
    bad_key = run("creditor", "payments", "--cnpj", CNPJ, "--pix-key", "not a key")
    assert bad_key.exit_code != 0 and "chave Pix inválida" in bad_key.output
    unknown = run("creditor", "payments", "--cnpj", "41.820.537/0001-85", "--city", "Recife")
    assert unknown.exit_code != 0 and "nenhum credor" in unknown.output


def test_agreement_policy(cli_env, db: Database, people: People) -> None:  # type: ignore[no-untyped-def]
    result = run("creditor", "policy", "--cnpj", CNPJ, "--max-instalments", "12", "--min-instalment", "40,00",
                 "--cash-discount", "10", "--interest", "1.99")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "até 12x, parcela mínima R$ 40,00" in result.output
    with db.session() as s:
        policy = s.scalars(select(AgreementPolicy)).one()
        assert (policy.max_instalments, policy.min_instalment_cents) == (12, 4000)
        assert (policy.cash_discount_bps, policy.monthly_interest_bps) == (1000, 199)
    assert run("creditor", "policy", "--cnpj", CNPJ, "--max-instalments", "99").exit_code != 0
    assert run("creditor", "policy", "--cnpj", CNPJ, "--min-instalment", "abc").exit_code != 0


def test_cases_are_listed_and_resolved(cli_env, db: Database, people: People) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.external_ref == "F-1"))
        invoice.pause_reason = "dispute"
        case = Case(kind=CaseKind.DISPUTE, debtor_id=people.debtor_id, invoice_id=invoice.id, evidence=[])
        s.add(case)
        s.flush()
        case_id = case.id
    ana = make_user(db, "agent", "ana@regua.example")
    listing = run("cases", "list")
    assert f"{case_id}" in listing.output and "contestação" in listing.output and "F-1" in listing.output
    resolve = ["cases", "resolve", str(case_id), "--note", "cliente reconheceu a compra", "--resume"]
    unknown = CliRunner().invoke(main, [*resolve, "--user", "ninguem@regua.example"])
    assert unknown.exit_code != 0 and "nenhuma pessoa cadastrada" in unknown.output
    done = run(*resolve, "--user", "ana@regua.example")
    assert done.exit_code == 0 and "cobrança retomada" in done.output
    with db.session() as s:
        assert s.get_one(Case, case_id).status == CaseStatus.RESOLVED
        assert s.scalar(select(Invoice.pause_reason).where(Invoice.external_ref == "F-1")) is None
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "case.resolved")) == f"agent:{ana}"
    again = ["cases", "resolve", str(case_id), "--note", "de novo", "--user", "ana@regua.example"]
    assert CliRunner().invoke(main, again).exit_code != 0
    assert "Nenhum caso aberto" in run("cases", "list").output


def test_handoff_list_take_release(cli_env, db: Database, people: People) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WAITING_AGENT,
        )
        locked = s.get_one(Debtor, people.debtor_id)
        locked.verification_failures, locked.verification_failed_at = 3, utcnow()
        s.add(conversation)
        s.flush()
        conversation_id = conversation.id
    ana = make_user(db, "agent", "ana@regua.example", "Ana Souza")
    make_user(db, "agent", "bia@regua.example", "Bia Lima")
    assert "waiting_agent" in run("handoff", "list").output
    assert run("handoff", "take", str(conversation_id), "--user", "ANA@regua.example").exit_code == 0
    with db.session() as s:
        taken = s.get_one(Conversation, conversation_id)
        assert taken.state == ConversationState.WITH_AGENT and taken.assigned_user_id == ana
    assert "com Ana Souza" in run("handoff", "list").output
    other = CliRunner().invoke(
        main, ["handoff", "release", str(conversation_id), "--user", "bia@regua.example"]
    )
    assert other.exit_code != 0 and "já está com Ana Souza" in other.output
    assert run("handoff", "release", str(conversation_id), "--user", "ana@regua.example").exit_code == 0
    with db.session() as s:
        released = s.get_one(Conversation, conversation_id)
        assert released.state == ConversationState.BOT and released.assigned_user_id is None
        assert released.debtor.verification_failures == 0  # the agent unlocked the identity check
        actors = set(s.scalars(select(AuditLog.actor).where(AuditLog.entity_type == "conversation")))
        assert actors == {f"agent:{ana}"}
    assert run("handoff", "take", "999999", "--user", "ana@regua.example").exit_code != 0


def test_handoff_refuses_an_unknown_or_disabled_person(cli_env, db: Database, people: People) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        conversation = Conversation(
            channel=Channel.WHATSAPP,
            address=PHONE,
            debtor_id=people.debtor_id,
            state=ConversationState.WAITING_AGENT,
        )
        s.add(conversation)
        s.flush()
        conversation_id = conversation.id
    make_user(db, "agent", "ana@regua.example")
    assert run("user", "disable", "ana@regua.example").exit_code == 0
    for email, why in (
        ("ninguem@regua.example", "nenhuma pessoa cadastrada"),
        ("ana@regua.example", "desativado"),
    ):
        refused = CliRunner().invoke(main, ["handoff", "take", str(conversation_id), "--user", email])
        assert refused.exit_code != 0 and why in refused.output
    assert (
        CliRunner().invoke(main, ["handoff", "take", str(conversation_id)]).exit_code != 0
    )  # --user required
    with db.session() as s:
        assert s.get_one(Conversation, conversation_id).state == ConversationState.WAITING_AGENT


def test_a_creditor_cadence_is_validated_before_it_is_saved(
    cli_env, db: Database, people: People, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.test_reminders import CADENCE

    good = tmp_path / "regua.yml"
    good.write_text(CADENCE, encoding="utf-8")
    assert "Régua 'teste' gravada: 2 etapa(s)" in run("creditor", "cadence", "--cnpj", CNPJ, str(good)).output
    bad = tmp_path / "ruim.yml"
    bad.write_text(CADENCE.replace("Lembrete:", "Última chance! Lembrete:"), encoding="utf-8")
    refused = run("creditor", "cadence", "--cnpj", CNPJ, str(bad))
    assert refused.exit_code != 0 and "forbidden" in refused.output
    with db.session() as s:
        assert "name: teste" in (s.get_one(Creditor, people.creditor_id).cadence_yaml or "")
    assert run("creditor", "cadence", "--cnpj", CNPJ, "--default").exit_code == 0
    with db.session() as s:
        assert s.get_one(Creditor, people.creditor_id).cadence_yaml is None
