"""What an import did: counts, row errors and warnings (all operator-facing text in Portuguese)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from bot.imports.reading import CsvSource

__all__ = ["ImportReport", "Progress", "RowError"]


@dataclass(frozen=True, order=True)
class RowError:
    """A problem with one row: its physical line in the file (header = line 1) and the reason.

    Used for errors (the row was not imported) and for warnings (it was, with the caveat in `reason`).
    A reason never contains a full CPF.
    """

    line: int
    reason: str

    def __str__(self) -> str:
        return f"linha {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """The outcome of one import. Every data row is counted exactly once in created, updated, unchanged or
    errors; warnings are extra notes about rows that were imported (or left unchanged)."""

    kind: str  # "debtors" | "invoices"
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    encoding: str = ""
    separator: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    file_name: str | None = None
    sha256: str = ""
    seconds: float = 0.0

    @classmethod
    def of_file(cls, csv_file: CsvSource, **fields: Any) -> Self:
        """A report for `csv_file`: its encoding, separator, ignored columns, name and digest, and the rows
        that could not even be read as errors."""
        report = cls(
            encoding=csv_file.encoding,
            separator=csv_file.separator_name,
            ignored_columns=csv_file.ignored_columns,
            file_name=csv_file.name,
            sha256=csv_file.sha256,
            **fields,
        )
        report.errors.extend(RowError(line, reason) for line, reason in csv_file.bad_rows)
        return report

    @property
    def failed(self) -> int:
        """Number of rows not imported because of an error."""
        return len(self.errors)

    @property
    def rows(self) -> int:
        """Number of data rows read (blank rows excluded)."""
        return self.created + self.updated + self.unchanged + self.failed

    @property
    def ok(self) -> bool:
        """True when no row failed."""
        return not self.errors

    @property
    def label(self) -> str:
        return {"debtors": "Devedores", "invoices": "Faturas"}.get(self.kind, self.kind)

    def summary(self) -> str:
        """One line of counts: "3 criados, 1 atualizado, 10 sem alteração, 2 com erro" (feminine for
        invoices: "3 criadas")."""
        ending = "a" if self.kind == "invoices" else "o"

        def n(count: int, stem: str) -> str:
            return f"{count} {stem}{ending}{'' if count == 1 else 's'}"

        return (
            f"{n(self.created, 'criad')}, {n(self.updated, 'atualizad')}, "
            f"{self.unchanged} sem alteração, {self.failed} com erro"
        )

    def __str__(self) -> str:
        return f"{self.label}: {self.summary()}"

    def audit_details(self) -> dict[str, Any]:
        """Counts and file facts for the audit log: no personal data (no names, CPFs, file contents)."""
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.failed,
            "warnings": len(self.warnings),
            "encoding": self.encoding,
            "separator": self.separator,
            "sha256": self.sha256,
            "seconds": round(self.seconds, 3),
        }


class Progress:
    """A rich progress bar on stderr, or nothing. Shown only when enabled and the file is large."""

    MIN_ROWS = 2000

    def __init__(self, enabled: bool, rows: int) -> None:
        self.enabled = enabled and rows >= self.MIN_ROWS
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    @contextlib.contextmanager
    def phase(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A task of `total` steps; yields `advance(n)`."""
        if self._bar is None:
            yield lambda _n: None
            return
        task = self._bar.add_task(description, total=total)
        yield lambda n: self._bar.advance(task, n)
        self._bar.update(task, completed=total)
