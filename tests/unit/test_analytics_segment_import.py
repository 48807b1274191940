"""The debtor's segment comes from the optional `segmento` column of the debtors file (docs/importing.md)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.db import Database
from bot.imports import import_debtors
from bot.models import Debtor

CPF_ANA = "47384722837"
CPF_JOAO = "44793757910"
CPF_MARIA = "27478124054"


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "devedores.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _segments(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {d.cpf: d.segment for d in s.scalars(select(Debtor))}


def test_the_segment_is_stored_in_lower_case_with_spaces_collapsed_and_an_empty_cell_clears_it(
    db: Database, tmp_path: Path
) -> None:
    report = import_debtors(
        db,
        _write(
            tmp_path,
            [
                "nome;cpf;telefone;Segmento",
                f"Ana;{CPF_ANA};(11) 98765-4321;  Alto   Valor ",
                f"João;{CPF_JOAO};(21) 99876-5432;varejo",
                f"Maria;{CPF_MARIA};(31) 98123-4567;",
            ],
        ),
    )
    assert report.ok and report.created == 3
    assert _segments(db) == {CPF_ANA: "alto valor", CPF_JOAO: "varejo", CPF_MARIA: None}
    report = import_debtors(
        db, _write(tmp_path, ["nome;cpf;telefone;carteira", f"Ana;{CPF_ANA};(11) 98765-4321;"])
    )
    assert report.ok and report.updated == 1
    assert _segments(db)[CPF_ANA] is None


def test_a_file_without_the_column_leaves_the_segment_alone(db: Database, tmp_path: Path) -> None:
    import_debtors(
        db, _write(tmp_path, ["nome;cpf;telefone;segmento", f"Ana;{CPF_ANA};(11) 98765-4321;varejo"])
    )
    report = import_debtors(
        db, _write(tmp_path, ["nome;cpf;telefone", f"Ana Luíza;{CPF_ANA};(11) 98765-4321"])
    )
    assert report.ok and report.updated == 1
    assert _segments(db) == {CPF_ANA: "varejo"}


def test_a_segment_longer_than_forty_characters_is_an_error_on_its_line(db: Database, tmp_path: Path) -> None:
    report = import_debtors(
        db, _write(tmp_path, ["nome;cpf;telefone;segmento", f"Ana;{CPF_ANA};(11) 98765-4321;{'x' * 41}"])
    )
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "segmento longo demais (41 caracteres; máximo 40)")
    ]
    assert _segments(db) == {}
