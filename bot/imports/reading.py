"""Reading CSV files as Brazilian spreadsheets export them: encoding, separator, headers, line numbers.

* Encoding: UTF-8 (with or without the BOM Excel writes) is tried first; a file that is not valid UTF-8 is
  read as Windows-1252 (the "ANSI" of Excel pt-BR, a superset of Latin-1 for printable characters), and as
  Latin-1 if it even contains bytes Windows-1252 leaves undefined.
* Separator: `;` (Excel pt-BR, because `,` is the decimal separator), `,` or tab, whichever appears most in
  the header line (outside quotes). An Excel ``sep=;`` hint on the first line is honoured.
* Headers: matched case-, accent-, space- and punctuation-insensitively against each field's Portuguese
  name and aliases ("Vencimento", "DATA DE VENCIMENTO", "due_date" ...). Unknown columns are ignored (and
  reported); a missing required column or two columns naming the same field is a `ImportFileError`.
* Line numbers are physical lines of the file, the header being line 1, so an operator can open the file
  at the reported line. A quoted value spanning several lines is reported at the line where its row starts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bot.text_folding import fold_accents

__all__ = [
    "CsvSource",
    "FieldSpec",
    "ImportFileError",
    "Row",
    "header_key",
    "read_csv",
]

# Fields are read as a whole into memory: 100,000 invoice rows are about 15 MB of text.
Source = str | os.PathLike[str] | IO[bytes] | IO[str]

_SEPARATORS = (";", ",", "\t")
_SEPARATOR_NAMES = {";": "';'", ",": "','", "\t": "tabulação"}
_SEP_HINT = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\ufeff": ""})


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, missing columns...); nothing was imported.

    The message is Brazilian Portuguese, meant for the operator.
    """


@dataclass(frozen=True)
class FieldSpec:
    """A field of an import file: its canonical (Portuguese) column name, aliases, and whether required."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    def header_keys(self) -> set[str]:
        return {header_key(self.name), *(header_key(a) for a in self.aliases)}


@dataclass(frozen=True)
class Row:
    """One data row: its physical line number and its values by canonical field name (stripped text)."""

    line: int
    values: Mapping[str, str]

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class CsvSource:
    """A decoded file: how it was read, which fields it has, and its data rows (blank rows dropped)."""

    encoding: str
    separator: str
    columns: set[str]
    ignored_columns: list[str]
    rows: list[Row]
    sha256: str
    name: str | None = None
    bad_rows: list[tuple[int, str]] = field(default_factory=list)

    @property
    def separator_name(self) -> str:
        return _SEPARATOR_NAMES.get(self.separator, repr(self.separator))


def header_key(text: str) -> str:
    """The comparison key of a header: lower case, no accents, letters and digits only."""
    plain = fold_accents(text.translate(_SPACES))
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def _read_bytes(source: Source) -> tuple[bytes | str, str | None]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except FileNotFoundError:
            raise ImportFileError(f"arquivo não encontrado: {path}") from None
        except IsADirectoryError:
            raise ImportFileError(f"{path} é uma pasta, não um arquivo") from None
        except OSError as error:
            raise ImportFileError(f"não foi possível ler {path}: {error.strerror}") from None
    data = source.read()
    return data, getattr(source, "name", None)


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding label): UTF-8 with or without BOM, else Windows-1252, else Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "UTF-8 com BOM"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _detect_separator(header_line: str) -> str:
    """The most frequent candidate separator outside quotes in the header line (';' on a tie or none)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first on ties: ';'
    return best if counts[best] else ";"


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip("\r")


def read_csv(source: Source, fields: list[FieldSpec]) -> CsvSource:
    """Read and decode `source`, map its header to `fields` and return its rows.

    Raises `ImportFileError` when the file is empty, unreadable, lacks a required column or has two
    columns for the same field.
    """
    raw, name = _read_bytes(source)
    if isinstance(raw, bytes):
        digest = hashlib.sha256(raw).hexdigest()
        text, encoding = decode(raw)
    else:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
        text, encoding = raw.removeprefix("\ufeff"), "texto"
    if "\x00" in text:
        raise ImportFileError(
            "o arquivo não parece ser um CSV (tem bytes nulos; é uma planilha .xlsx ou UTF-16?). "
            "Salve-o como 'CSV (separado por ponto e vírgula)'"
        )

    first_line_number = 1
    first = _first_line(text)
    hint = _SEP_HINT.match(first)
    if hint:  # Excel's "sep=;" line: the header is on line 2.
        separator = hint.group(1)
        text = text.split("\n", 1)[1] if "\n" in text else ""
        first_line_number = 2
        first = _first_line(text)
    else:
        separator = _detect_separator(first)
    if not text.strip():
        raise ImportFileError("o arquivo está vazio")

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"', strict=False)
    records = _records(reader, first_line_number - 1)
    try:
        _, header = next(records)
    except StopIteration:
        raise ImportFileError("o arquivo está vazio") from None
    except csv.Error as error:
        raise ImportFileError(f"o cabeçalho não pôde ser lido: {error}") from None

    positions, ignored = _map_header(header, fields)
    width = len(header)
    rows: list[Row] = []
    bad_rows: list[tuple[int, str]] = []
    try:
        for line, cells in records:
            cleaned = [c.translate(_SPACES).strip() for c in cells]
            if not any(cleaned):
                continue  # blank line, or ";;;;" left by a spreadsheet
            if len(cleaned) > width and any(cleaned[width:]):
                bad_rows.append(
                    (
                        line,
                        f"a linha tem {len(cleaned)} colunas e o cabeçalho, {width} "
                        f"(um valor com {separator!r} sem aspas?)",
                    )
                )
                continue
            values = {name: (cleaned[pos] if pos < len(cleaned) else "") for name, pos in positions.items()}
            rows.append(Row(line, values))
    except csv.Error as error:
        raise ImportFileError(f"o arquivo não pôde ser lido como CSV: {error}") from None
    return CsvSource(
        encoding=encoding,
        separator=separator,
        columns=set(positions),
        ignored_columns=ignored,
        rows=rows,
        sha256=digest,
        name=name,
        bad_rows=bad_rows,
    )


def _records(reader: Iterator[list[str]], offset: int) -> Iterator[tuple[int, list[str]]]:
    """(starting physical line, cells) for each record; `offset` lines precede the reader's text."""
    previous_end = 0
    for cells in reader:
        start = previous_end + 1
        previous_end = reader.line_num  # type: ignore[attr-defined]
        yield start + offset, cells


def _map_header(header: list[str], fields: list[FieldSpec]) -> tuple[dict[str, int], list[str]]:
    by_key = {key: spec for spec in fields for key in spec.header_keys()}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        title = title.translate(_SPACES).strip()
        spec = by_key.get(header_key(title))
        if spec is None:
            if title:
                ignored.append(title)
            continue
        if spec.name in positions:
            raise ImportFileError(
                f"as colunas {index_label(positions[spec.name], header)} e {index_label(index, header)} "
                f"são ambas '{spec.name}'; deixe só uma"
            )
        positions[spec.name] = index
    missing = [spec.name for spec in fields if spec.required and spec.name not in positions]
    if missing:
        found = ", ".join(f"'{t.strip()}'" for t in header if t.strip()) or "nenhuma"
        what = "faltam as colunas obrigatórias" if len(missing) > 1 else "falta a coluna obrigatória"
        raise ImportFileError(
            f"{what} {', '.join(missing)} (colunas encontradas: {found}). Nada foi importado"
        )
    return positions, ignored


def index_label(index: int, header: list[str]) -> str:
    """A column as an operator sees it in a spreadsheet: "'Vencimento' (coluna C)"."""
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"'{header[index].strip()}' (coluna {letters})"
