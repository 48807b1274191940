"""A results table as CSV for the spreadsheets Brazilian teams use.

Format, chosen for Excel in pt-BR: UTF-8 with a byte-order mark (without it Excel reads "Recuperação"
as mojibake), `;` between cells (Excel in pt-BR expects it, since `,` is the decimal separator: "12,5 %"),
CRLF line ends. Cells are the same texts the page shows.

Formula injection: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
formula by a spreadsheet (a creditor's name or a variant is text someone typed), so it is prefixed with
`'`, which spreadsheets show as text (OWASP's "CSV injection" advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """`value` as text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = True) -> str:
    """The table as CSV text (with the BOM unless `bom` is False: a second table in the same file)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in headers])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return (BOM if bom else "") + out.getvalue()
