"""`regua report`: the dashboard's tables in the terminal and as one CSV file; `regua report refresh`."""

from __future__ import annotations

from pathlib import Path

from bot.db import Database
from bot.models import DailyResult
from tests.unit import analytics_data
from tests.unit.conftest import run


def test_report_prints_the_same_tables_as_the_console_for_a_creditor(cli_env: Path, db: Database) -> None:
    data = analytics_data.build(db)
    assert (
        "Números recalculados"
        in run("report", "refresh", "--from", "2026-02-01", "--to", "2026-04-05").output
    )
    result = run("report", "--from", "2026-03-01", "--to", "2026-03-31", "--creditor", str(data.creditor_a))
    assert result.exit_code == 0
    out = result.output
    assert "Resultados de 01/03/2026 a 31/03/2026 · Loja A Ltda" in out
    assert "Números atualizados em" in out
    for title in ("Indicadores", "Funil", "Por passo da régua", "Por canal", "Variantes por passo"):
        assert title in out
    assert "R$ 100,00" in out and "Por credor" not in out


def test_report_writes_every_table_to_one_csv_file(cli_env: Path, db: Database, tmp_path: Path) -> None:
    analytics_data.build(db)
    run("report", "refresh", "--from", "2026-03-01", "--to", "2026-03-31")
    target = tmp_path / "marco.csv"
    run("report", "--from", "2026-03-01", "--to", "2026-03-31", "--csv", str(target))
    text = target.read_bytes().decode("utf-8")
    assert text.startswith("\ufeffIndicadores\r\nIndicador;Valor;Numerador;Denominador\r\n")
    assert "\r\nFunil\r\nEtapa;Contatos;% dos enviados\r\nEnviados;6;100,0 %\r\n" in text
    assert text.count("\ufeff") == 1


def test_report_without_aggregates_says_so_and_shows_no_rates(cli_env: Path, db: Database) -> None:
    result = run("report", "--from", "2026-03-01", "--to", "2026-03-31")
    assert "ainda não foram calculados" in result.output and "Sem dados" in result.output
    with db.session() as s:
        assert s.query(DailyResult).count() == 0


def test_report_refuses_a_period_that_ends_before_it_starts(cli_env: Path, db: Database) -> None:
    result = run("report", "--from", "2026-03-31", "--to", "2026-03-01")
    assert result.exit_code != 0 and "A data final é anterior à inicial." in result.output
