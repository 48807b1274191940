"""The CSV of a results table: Excel-in-Portuguese friendly, and never a formula."""

from __future__ import annotations

import pytest

from bot.reports.csv_export import safe_cell, to_csv


@pytest.mark.parametrize("text", ["=1+1", "+55 11", "-3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_prefixed_with_a_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["12,5 %", "R$ 1.234,56", "sem dados", "d-3", "Loja = boa", ""])
def test_ordinary_cells_are_left_as_they_are(text: str) -> None:
    assert safe_cell(text) == text


def test_a_table_is_bom_utf8_semicolon_separated_with_crlf_and_quotes_what_needs_it() -> None:
    text = to_csv(("Credor", "Valor"), [("Loja; Filial", "R$ 1,00"), ("Ação", "=2")])
    assert text == '\ufeffCredor;Valor\r\n"Loja; Filial";R$ 1,00\r\nAção;\'=2\r\n'
    assert not to_csv(("a",), [], bom=False).startswith("\ufeff")
