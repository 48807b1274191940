"""Import invoices from CSV, idempotent on (creditor, referencia). See docs/importing.md for the rules."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import Database
from bot.imports.creditors import registered_cnpj
from bot.imports.fields import masked, parse_cpf
from bot.imports.invoice_rows import (
    _COMPARED,
    _OPTIONAL_COLUMNS,
    INVOICE_FIELDS,
    _creditor_for_cell,
    _next_status,
    _parse_row,
    _Parsed,
)
from bot.imports.reading import ImportFileError, Source, read_csv
from bot.imports.report import ImportReport, Progress, RowError
from bot.imports.store import (
    ANALYZE_AFTER_ROWS,
    analyze,
    audit,
    bulk_insert,
    bulk_update,
    chunks,
    lookup_chunk,
    one_of,
)
from bot.models import Creditor, Debtor, Invoice, InvoiceStatus, utcnow

__all__ = ["INVOICE_FIELDS", "import_invoices"]


def _resolve_default_creditor(
    creditors: dict[str, int], creditor_cnpj: str | None, has_column: bool
) -> int | None:
    if creditor_cnpj:
        return creditors[registered_cnpj(creditors, creditor_cnpj)]
    if len(creditors) == 1:
        return next(iter(creditors.values()))
    if has_column:
        return None  # every row must name its creditor
    if not creditors:
        raise ImportFileError(
            "nenhum credor cadastrado; cadastre o credor com 'regua creditor add' antes de importar faturas"
        )
    raise ImportFileError(
        f"há {len(creditors)} credores cadastrados: informe de qual são as faturas com --creditor CNPJ "
        "ou com a coluna credor_cnpj. Nada foi importado"
    )


def import_invoices(
    db: Database,
    source: Source,
    creditor_cnpj: str | None = None,
    *,
    progress: bool = False,
    actor: str = "system",
) -> ImportReport:
    """Import (create or update) the invoices of a CSV file. Idempotent on (creditor, referencia).

    The creditor of a row is its `credor_cnpj` cell, else `creditor_cnpj`, else the only registered
    creditor. Debtors must exist (import them first). Bad rows are reported and skipped; good rows are
    written in one transaction with one `AuditLog` row. Raises `ImportFileError` when the file as a whole
    cannot be imported (nothing is written then).
    """
    started = time.monotonic()
    csv_file = read_csv(source, INVOICE_FIELDS)
    report = ImportReport.of_file(csv_file, kind="invoices")
    now = utcnow()
    has_creditor_column = "credor_cnpj" in csv_file.columns

    with Progress(progress, len(csv_file.rows)) as bar, db.session() as session:
        creditors = dict(session.execute(select(Creditor.cnpj, Creditor.id)).all())
        default_creditor = _resolve_default_creditor(creditors, creditor_cnpj, has_creditor_column)

        parsed: list[_Parsed] = []
        first_line: dict[tuple[object, str], int] = {}
        cnpj_cache: dict[str, int | str] = {}
        # Each debtor's CPF repeats on each of their invoices; the cache lives only for this import.
        cpf_of = functools.lru_cache(maxsize=None)(parse_cpf)
        with bar.phase("validando", len(csv_file.rows)) as advance:
            for row in csv_file.rows:
                advance(1)
                errors: list[str] = []
                creditor_id = default_creditor
                creditor_key: object = default_creditor
                raw_cnpj = row.get("credor_cnpj")
                if raw_cnpj:
                    resolved = cnpj_cache.get(raw_cnpj)
                    if resolved is None:
                        resolved = _creditor_for_cell(raw_cnpj, creditors)
                        cnpj_cache[raw_cnpj] = resolved
                    if isinstance(resolved, int):
                        creditor_id = creditor_key = resolved
                    else:
                        creditor_id, creditor_key = None, raw_cnpj
                        errors.append(resolved)
                item, row_errors = _parse_row(
                    row, csv_file.columns, creditor_id, creditor_named=bool(raw_cnpj), cpf_of=cpf_of
                )
                errors.extend(row_errors)
                # The first row with a reference claims it, even if it is bad: fixing that row later must not
                # turn a later copy of it from "imported" into "duplicate".
                ref = row.get("referencia")
                if ref:
                    key = (creditor_key, ref)
                    if key in first_line:
                        errors = [
                            f"referência '{ref}' repetida no arquivo (já aparece na linha {first_line[key]})"
                        ]
                    else:
                        first_line[key] = row.line
                if errors:
                    report.errors.append(RowError(row.line, "; ".join(errors)))
                elif item is not None:
                    parsed.append(item)

        debtor_ids = _debtor_ids(db, session, [p.cpf for p in parsed])
        stored = _stored_invoices(db, session, parsed)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for item in parsed:
            debtor_id = debtor_ids.get(item.cpf)
            if debtor_id is None:
                report.errors.append(
                    RowError(
                        item.line,
                        f"devedor com CPF {masked(item.cpf)} não encontrado; importe os devedores antes",
                    )
                )
                continue
            current = stored.get((item.creditor_id, item.ref))
            if current is None:
                status = item.status or InvoiceStatus.OPEN
                inserts.append(
                    {c: None for c in _OPTIONAL_COLUMNS.values()}
                    | item.values
                    | {
                        "creditor_id": item.creditor_id,
                        "debtor_id": debtor_id,
                        "external_ref": item.ref,
                        "status": status,
                        "paid_at": now if status == InvoiceStatus.PAID else None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                continue
            if current["debtor_id"] != debtor_id:
                report.errors.append(
                    RowError(
                        item.line,
                        f"a fatura '{item.ref}' já existe para outro devedor; uma importação não transfere "
                        "faturas entre devedores",
                    )
                )
                continue
            changes = {c: v for c, v in item.values.items() if c in _COMPARED and current[c] != v}
            status, paid_at, warning = _next_status(current["status"], current["paid_at"], item.status, now)
            if warning:
                report.warnings.append(RowError(item.line, warning))
            if status != current["status"]:
                changes["status"] = status
                changes["paid_at"] = paid_at
            if changes:
                updates.append({"id": current["id"], **changes, "updated_at": now})
                report.updated += 1
            else:
                report.unchanged += 1
        report.created = len(inserts)

        with bar.phase("gravando", len(inserts) + len(updates)) as advance:
            bulk_insert(session, Invoice, inserts, advance)
            bulk_update(session, Invoice, updates, advance)

        report.errors.sort()
        report.warnings.sort()
        report.seconds = time.monotonic() - started
        creditor_ids = sorted({p.creditor_id for p in parsed})
        details = report.audit_details() | {"creditor_ids": creditor_ids}
        audit(
            session,
            actor=actor,
            action="import.invoices",
            details=details,
            entity_type="creditor" if len(creditor_ids) == 1 else None,
            entity_id=str(creditor_ids[0]) if len(creditor_ids) == 1 else None,
        )
    if report.created + report.updated >= ANALYZE_AFTER_ROWS:
        analyze(db, "invoices")
    report.seconds = time.monotonic() - started
    return report


def _debtor_ids(db: Database, session: Session, cpfs: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunks(sorted(set(cpfs)), lookup_chunk(db)):
        found.update(
            session.execute(select(Debtor.cpf, Debtor.id).where(one_of(db, Debtor.cpf, batch))).all()
        )
    return found


def _stored_invoices(
    db: Database, session: Session, parsed: list[_Parsed]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The stored invoices the file refers to, by (creditor id, reference)."""
    refs_by_creditor: dict[int, set[str]] = defaultdict(set)
    for item in parsed:
        refs_by_creditor[item.creditor_id].add(item.ref)
    columns = [
        Invoice.id,
        Invoice.creditor_id,
        Invoice.external_ref,
        Invoice.debtor_id,
        Invoice.status,
        Invoice.paid_at,
        *(getattr(Invoice, c) for c in _COMPARED),
    ]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for creditor_id, refs in refs_by_creditor.items():
        for batch in chunks(sorted(refs), lookup_chunk(db)):
            query = select(*columns).where(
                Invoice.creditor_id == creditor_id, one_of(db, Invoice.external_ref, batch)
            )
            for row in session.execute(query).mappings():
                found[(row["creditor_id"], row["external_ref"])] = dict(row)
    return found
