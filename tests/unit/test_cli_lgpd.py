"""`regua lgpd ...` through click's CliRunner (test_cli_data.py says how the CLI finds the test database)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.db import Database
from bot.models import AuditLog, Debtor
from tests.unit.conftest import run
from tests.unit.lgpd_people import ANA_CPF, ANA_NEEDLES, all_text, create


def _audit(db: Database, action: str) -> list[AuditLog]:
    with db.session() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_lgpd_export_prints_json_or_writes_both_files_and_is_audited_without_personal_data(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    ids = create(db)
    printed = run("lgpd", "export", "--cpf", "529.982.247-25", "--actor", "dpo")
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.output)
    assert data["person"]["cpf"] == ANA_CPF and len(data["conversations"]) == 2

    out = tmp_path / "pedido-123"
    written = run("lgpd", "export", "--cpf", ANA_CPF, "--output-dir", str(out))
    assert written.exit_code == 0, written.output
    md = (out / f"titular-{ids.ana}.md").read_text(encoding="utf-8")
    assert "Seus dados pessoais tratados pela Régua" in md and "Ana Beatriz Lima" in md
    assert (
        json.loads((out / f"titular-{ids.ana}.json").read_text(encoding="utf-8"))["person"]["id"] == ids.ana
    )
    assert stat.S_IMODE((out / f"titular-{ids.ana}.json").stat().st_mode) == 0o600

    audit = _audit(db, "lgpd.export")
    assert (audit[0].actor, audit[0].entity_id) == ("cli:dpo", str(ids.ana))
    assert audit[0].details["counts"]["messages"] == 3
    assert all(n not in json.dumps(a.details) for a in audit for n in (*ANA_NEEDLES, ANA_CPF))


def test_lgpd_erase_asks_for_confirmation_and_a_no_changes_nothing(cli_env: Path, db: Database) -> None:
    ids = create(db)
    refused = CliRunner().invoke(main, ["lgpd", "erase", "--cpf", ANA_CPF], input="n\n")
    assert refused.exit_code == 1
    assert (
        "Anonimizar o titular do CPF ***.982.247-**" in refused.output
        and "2 fatura(s), 1 em aberto" in refused.output
    )
    with db.session() as s:
        assert s.get_one(Debtor, ids.ana).erased_at is None
    assert _audit(db, "lgpd.erase") == []


def test_lgpd_erase_anonymises_audits_the_actor_and_a_second_run_is_a_no_op(
    cli_env: Path, db: Database
) -> None:
    create(db)
    first = run("lgpd", "erase", "--cpf", ANA_CPF, "--yes", "--actor", "dpo")
    assert first.exit_code == 0, first.output
    assert "Titular anonimizado: 2 conversa(s), 3 mensagem(ns), 1 lembrete(s) cancelado(s)" in first.output
    with db.engine.connect() as conn:
        text = all_text(conn)
    assert not any(needle in text for needle in ANA_NEEDLES)

    second = run("lgpd", "erase", "--cpf", ANA_CPF, "--yes")
    assert second.exit_code == 0 and "já foram anonimizados" in second.output
    audit = _audit(db, "lgpd.erase")
    assert [(a.actor, a.details.get("already_erased", False)) for a in audit] == [
        ("cli:dpo", False),
        (audit[1].actor, True),
    ]
    assert audit[1].actor.startswith("cli:")
    # The export after erasure finds the person by CPF and shows only what was kept.
    after = run("lgpd", "export", "--cpf", ANA_CPF, "--format", "md")
    assert after.exit_code == 0 and "foram anonimizados em" in after.output and "Beatriz" not in after.output


def test_an_erased_cpf_can_come_back_only_after_allow_reimport(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    create(db)
    run("lgpd", "erase", "--cpf", ANA_CPF, "--yes")
    path = tmp_path / "antigo.csv"
    path.write_text("nome;cpf;telefone\nAna Beatriz Lima;529.982.247-25;11987654321\n", encoding="utf-8")
    refused = run("import", "debtors", str(path))
    assert (
        refused.exit_code == 1 and "eliminados a pedido" in refused.output and ANA_CPF not in refused.output
    )

    allowed = run("lgpd", "allow-reimport", "--cpf", ANA_CPF, "--yes", "--actor", "dpo")
    assert allowed.exit_code == 0, allowed.output
    again = run("import", "debtors", str(path))
    assert again.exit_code == 0 and "1 criado" in again.output
    assert [a.actor for a in _audit(db, "lgpd.allow_reimport")] == ["cli:dpo"]


def test_lgpd_commands_reject_an_invalid_cpf_and_say_when_nobody_has_it(cli_env: Path, db: Database) -> None:
    create(db)
    bad = run("lgpd", "export", "--cpf", "529.982.247-26")
    assert bad.exit_code == 2 and "CPF inválido" in bad.output
    unknown = run("lgpd", "erase", "--cpf", "473.847.228-37", "--yes")
    assert unknown.exit_code == 1 and "nenhum titular com o CPF ***.847.228-**" in unknown.output


def test_allow_reimport_refuses_a_cpf_that_was_never_erased(cli_env: Path, db: Database) -> None:
    create(db)
    refused = run("lgpd", "allow-reimport", "--cpf", ANA_CPF, "--yes")
    assert refused.exit_code == 1 and "nenhum titular anonimizado com o CPF" in refused.output
    assert _audit(db, "lgpd.allow_reimport") == []
