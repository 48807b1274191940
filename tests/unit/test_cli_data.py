"""Tests for `regua creditor`, `regua import` and `regua demo` through click's CliRunner.

The CLI reads its settings from the environment through the cached `get_settings()`, so each test points
DATABASE_URL / REGUA_VAR_DIR at the test database and a private var dir, and clears the cache before and
after (tests stay independent of their order).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT, get_settings
from bot.db import Database
from bot.models import Creditor, Debtor, Invoice
from tests.unit.conftest import run

CNPJ = "11.222.333/0001-81"
CPF_ANA = "473.847.228-37"
EXAMPLES = PROJECT_ROOT / "docs" / "examples"


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def add_creditor(contact: str = "SAC 0800 000 0000") -> Result:
    return run("creditor", "add", "--cnpj", CNPJ, "--name", "Loja Exemplo Ltda", "--contact", contact)


def test_creditor_add_is_idempotent_and_list_shows_it(cli_env: Path, db: Database) -> None:
    result = run("creditor", "list")
    assert result.exit_code == 0 and "Nenhum credor cadastrado" in result.output

    first = add_creditor()
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Credor cadastrado: Loja Exemplo Ltda (CNPJ 11.222.333/0001-81)."
    assert "sem alteração" in add_creditor().output
    changed = run(
        "creditor", "add", "--cnpj", "11222333000181", "--name", "Loja Exemplo Ltda",
        "--trade-name", "Loja Exemplo", "--contact", "SAC 0800 111 2222",
    )  # fmt: skip
    assert changed.output.startswith("Credor atualizado: Loja Exemplo ")
    assert count(db, Creditor) == 1

    listing = run("creditor", "list")
    assert listing.exit_code == 0
    assert "11.222.333/0001-81" in listing.output and "SAC 0800 111 2222" in listing.output


def test_creditor_add_rejects_an_invalid_cnpj(cli_env: Path, db: Database) -> None:
    result = run("creditor", "add", "--cnpj", "11.222.333/0001-80", "--name", "X", "--contact", "Y")
    assert result.exit_code == 2
    assert "Erro: CNPJ inválido (dígitos verificadores não conferem)" in result.output
    assert count(db, Creditor) == 0


def test_import_examples_then_reimport_changes_nothing(cli_env: Path, db: Database) -> None:
    add_creditor()
    debtors = run("import", "debtors", str(EXAMPLES / "debtors.csv"))
    assert debtors.exit_code == 0, debtors.output
    assert "Devedores (debtors.csv): 8 criados, 0 atualizados, 0 sem alteração, 0 com erro" in debtors.output
    invoices = run("import", "invoices", str(EXAMPLES / "invoices.csv"))
    assert invoices.exit_code == 0, invoices.output
    assert "Faturas (invoices.csv): 9 criadas, 0 atualizadas, 0 sem alteração, 0 com erro" in invoices.output

    again = run("import", "invoices", str(EXAMPLES / "invoices.csv"), "--creditor", CNPJ)
    assert again.exit_code == 0
    assert "0 criadas, 0 atualizadas, 9 sem alteração, 0 com erro" in again.output
    assert (count(db, Debtor), count(db, Invoice)) == (8, 9)


def test_import_with_bad_rows_exits_1_prints_lines_and_summary_and_masks_cpfs(
    cli_env: Path, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "devedores.csv"
    path.write_text(
        "nome;cpf;telefone\n"
        f"Ana;{CPF_ANA};(11) 98765-4321\n"
        "Pedro;473.847.228-38;(11) 98765-0000\n"
        f"Ana de novo;{CPF_ANA};(11) 98765-4321\n",
        encoding="cp1252",
    )
    errors_file = tmp_path / "erros.csv"
    result = run("import", "debtors", str(path), "--errors-file", str(errors_file))
    assert result.exit_code == 1
    assert "linha 3: CPF inválido (dígitos verificadores não conferem)" in result.output
    assert "linha 4: CPF ***.847.228-** repetido no arquivo (já aparece na linha 2)" in result.output
    assert (
        result.output.rstrip()
        .splitlines()[-2]
        .startswith("Devedores (devedores.csv): 1 criado, 0 atualizados, 0 sem alteração, 2 com erro")
    )
    assert "473.847.228" not in result.output and "47384722837" not in result.output
    assert count(db, Debtor) == 1
    lines = errors_file.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "linha;tipo;motivo" and lines[1].startswith("3;erro;CPF inválido")


def test_import_unknown_debtor_exits_1(cli_env: Path, db: Database, tmp_path: Path) -> None:
    add_creditor()
    path = tmp_path / "faturas.csv"
    path.write_text(f"referencia;cpf;valor;vencimento\nF-1;{CPF_ANA};10,00;01/02/2025\n", encoding="utf-8")
    result = run("import", "invoices", str(path))
    assert result.exit_code == 1
    assert (
        "linha 2: devedor com CPF ***.847.228-** não encontrado; importe os devedores antes" in result.output
    )


def test_import_file_errors_exit_2(cli_env: Path, db: Database, tmp_path: Path) -> None:
    missing_column = tmp_path / "sem-telefone.csv"
    missing_column.write_text(f"nome;cpf\nAna;{CPF_ANA}\n", encoding="utf-8")
    result = run("import", "debtors", str(missing_column))
    assert result.exit_code == 2
    assert "Erro: falta a coluna obrigatória telefone" in result.output

    result = run("import", "debtors", str(tmp_path / "nao-existe.csv"))
    assert result.exit_code == 2 and "arquivo não encontrado" in result.output

    invoices = tmp_path / "faturas.csv"
    invoices.write_text(
        f"referencia;cpf;valor;vencimento\nF-1;{CPF_ANA};10,00;01/02/2025\n", encoding="utf-8"
    )
    result = run("import", "invoices", str(invoices))
    assert result.exit_code == 2 and "nenhum credor cadastrado" in result.output
    assert count(db, Debtor) == 0


def test_demo_command_loads_once(cli_env: Path, db: Database) -> None:
    result = run("demo", "--debtors", "25", "--seed", "3", "--today", "2025-06-10")
    assert result.exit_code == 0, result.output
    assert "Dados de demonstração carregados: credor Magazine Horizonte" in result.output
    assert "Devedores: 25 criados" in result.output
    assert (cli_env / "demo" / "debtors.csv").exists() and (cli_env / "demo" / "invoices.csv").exists()
    loaded = (count(db, Debtor), count(db, Invoice))

    again = run("demo", "--debtors", "25", "--seed", "3")
    assert again.exit_code == 0 and "já estão carregados" in again.output
    assert (count(db, Debtor), count(db, Invoice)) == loaded

    reset = run("demo", "--debtors", "25", "--seed", "3", "--today", "2025-06-10", "--reset")
    assert reset.exit_code == 0 and "recriados" in reset.output
    assert (count(db, Debtor), count(db, Invoice)) == loaded


def test_commands_refuse_an_unmigrated_database(
    cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'vazio.db'}")
    get_settings.cache_clear()
    for args in (("creditor", "list"), ("demo",), ("import", "debtors", str(EXAMPLES / "debtors.csv"))):
        result = run(*args)
        assert result.exit_code == 2
        assert "rode 'regua db upgrade'" in result.output
