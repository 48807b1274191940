"""Import a creditor's file of payments received, through the same path as the payment webhook.

Each good row becomes a `bot.payments.providers.Confirmation` applied with `bot.payments.confirmations.apply`
under the provider name "file": a `Payment` is recorded (idempotent on its id), the invoice or agreement
instalment is marked paid when the amount covers it, pending reminders stop and a thank-you is queued.
Re-importing a file changes nothing: a row's id is its `id` column, or one derived from the creditor's CNPJ,
the reference, the payment date and the amount. See docs/importing.md ("Payments file") for the rules.

Redis is not touched here: the caller enqueues delivery of `PaymentImportReport.thanked_conversations`
(`regua import payments` does; the worker's sweep delivers them anyway).
"""

from __future__ import annotations

import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.agreements import references
from bot.config import Settings, get_settings
from bot.db import Database
from bot.imports.fields import display_cnpj
from bot.imports.payment_rows import PAYMENT_FIELDS, _default_cnpj, _parse_row, _Parsed, parse_paid_at
from bot.imports.reading import Source, read_csv
from bot.imports.report import ImportReport, Progress, RowError
from bot.imports.store import audit
from bot.localtime import local_date
from bot.models import Creditor, Instalment, Invoice, Payment
from bot.money import format_brl
from bot.payments import confirmations
from bot.payments.providers import Confirmation

__all__ = ["PAYMENT_FIELDS", "PROVIDER", "PaymentImportReport", "import_payments", "parse_paid_at"]

PROVIDER = "file"


@dataclass
class PaymentImportReport(ImportReport):
    """An `ImportReport` that also lists the conversations where a thank-you was queued (to deliver)."""

    kind: str = "payments"
    thanked_conversations: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "Pagamentos"


def import_payments(
    db: Database,
    source: Source,
    creditor_cnpj: str | None = None,
    *,
    progress: bool = False,
    actor: str = "system",
    settings: Settings | None = None,
) -> PaymentImportReport:
    """Apply the payments of a CSV file (referencia, valor, data_pagamento, [cnpj_credor], [id]).

    The creditor of a row is its `cnpj_credor` cell, else `creditor_cnpj`, else the only registered
    creditor; with several creditors and neither, the reference alone must identify the invoice. Each row
    goes through `bot.payments.confirmations.apply` (provider "file"): paid → created; a partial payment, a
    payment of an invoice in an agreement or of a cancelled charge is recorded and a case opened for the
    team → created with a warning; already paid → unchanged with a warning (and a case); a payment already
    imported → unchanged; an unknown reference or creditor → error. All rows are written in
    one transaction with one `AuditLog` row. `settings` (default: the process settings) shapes the
    thank-you messages. Raises `ImportFileError` when the file as a whole cannot be imported.
    """
    started = clock.monotonic()
    settings = settings or get_settings()
    csv_file = read_csv(source, PAYMENT_FIELDS)
    report = PaymentImportReport.of_file(csv_file)
    today = local_date(datetime.now(UTC))
    outcomes: Counter[str] = Counter()
    thanked: set[int] = set()

    with Progress(progress, len(csv_file.rows)) as bar, db.session() as session:
        creditors = dict(session.execute(select(Creditor.cnpj, Creditor.id)).all())
        default_cnpj = _default_cnpj(creditors, creditor_cnpj)

        parsed: list[_Parsed] = []
        first_line: dict[tuple[str, str], int] = {}
        with bar.phase("validando", len(csv_file.rows)) as advance:
            for row in csv_file.rows:
                advance(1)
                item, errors, cnpj = _parse_row(row, creditors, default_cnpj, today)
                # A repeated id (or, without ids, the same reference, date and amount) is one payment: the
                # first row claims it, even a bad one, like the other imports.
                supplied = row.get("id")
                key = ("id", f"{cnpj or ''}:{supplied}") if supplied else None
                if key is None and item is not None:
                    key = ("auto", item.confirmation.external_id)
                if key is not None:
                    if key in first_line:
                        errors = [_repeated(key[0], supplied, first_line[key])]
                    else:
                        first_line[key] = row.line
                if errors:
                    report.errors.append(RowError(row.line, "; ".join(errors)))
                elif item is not None:
                    parsed.append(item)

        with bar.phase("aplicando", len(parsed)) as advance:
            for item in parsed:
                advance(1)
                applied = confirmations.apply(session, settings, PROVIDER, item.confirmation)
                outcomes[applied.outcome] += 1
                thanked.update(applied.thanked_conversations)
                _count(session, report, item, applied)

        report.thanked_conversations = sorted(thanked)
        report.errors.sort()
        report.warnings.sort()
        report.seconds = clock.monotonic() - started
        creditor_ids = sorted(
            {creditors[p.confirmation.creditor_cnpj] for p in parsed if p.confirmation.creditor_cnpj}
        )
        details = report.audit_details() | {
            "creditor_ids": creditor_ids,
            "outcomes": dict(sorted(outcomes.items())),
            "thanked": len(report.thanked_conversations),
        }
        audit(
            session,
            actor=actor,
            action="import.payments",
            details=details,
            entity_type="creditor" if len(creditor_ids) == 1 else None,
            entity_id=str(creditor_ids[0]) if len(creditor_ids) == 1 else None,
        )
    report.seconds = clock.monotonic() - started
    return report


def _repeated(kind: str, supplied: str, line: int) -> str:
    if kind == "id":
        return f"identificador '{supplied}' repetido no arquivo (já aparece na linha {line})"
    return (
        f"pagamento repetido no arquivo (mesma referência, data e valor da linha {line}); se foram dois "
        "pagamentos, diferencie-os com a coluna id"
    )


def _count(
    session: Session, report: PaymentImportReport, item: _Parsed, applied: confirmations.Applied
) -> None:
    """Count one applied row in the report, with its warning or error."""
    confirmation = item.confirmation
    line = item.line
    if applied.outcome == "paid":
        report.created += 1
    elif applied.outcome == "partial":
        report.created += 1
        report.warnings.append(RowError(line, _partial_warning(session, applied, confirmation.amount_cents)))
    elif applied.outcome in ("on_agreement", "on_cancelled"):
        report.created += 1
        name = _charge_name(session, applied)
        state = "está em um acordo" if applied.outcome == "on_agreement" else "está cancelada"
        amount = format_brl(confirmation.amount_cents)
        report.warnings.append(
            RowError(
                line,
                f"{name[0].upper()}{name[1:]} {state}; o pagamento de {amount} foi registrado sem baixa "
                f"e enviado à equipe (caso {applied.case_id})",
            )
        )
    elif applied.outcome == "already_paid":
        report.unchanged += 1
        name = _charge_name(session, applied)
        report.warnings.append(
            RowError(
                line,
                f"{name[0].upper()}{name[1:]} já constava como paga; o pagamento de "
                f"{format_brl(confirmation.amount_cents)} foi registrado sem outra alteração "
                "(confira se houve pagamento em duplicidade)",
            )
        )
    elif applied.outcome == "duplicate":
        mismatch = _reused_id(session, applied, item)
        if mismatch:
            report.errors.append(RowError(line, mismatch))
        else:
            report.unchanged += 1
    elif applied.outcome == "unknown_creditor":
        cnpj = confirmation.creditor_cnpj or ""
        report.errors.append(
            RowError(line, f"credor com CNPJ {display_cnpj(cnpj)} não cadastrado (use 'regua creditor add')")
        )
    else:
        report.errors.append(RowError(line, _unknown_reference(session, confirmation)))


def _charge_name(session: Session, applied: confirmations.Applied) -> str:
    """ "a fatura F-1" or "a parcela 2 do acordo 12"."""
    if applied.instalment_id is not None:
        instalment = session.get_one(Instalment, applied.instalment_id)
        return f"a parcela {instalment.number} do acordo {instalment.agreement_id}"
    invoice = session.get_one(Invoice, applied.invoice_id)
    return f"a fatura {invoice.external_ref}"


def _partial_warning(session: Session, applied: confirmations.Applied, amount_cents: int) -> str:
    if applied.instalment_id is not None:
        due = session.get_one(Instalment, applied.instalment_id).amount_cents
        recorded = Payment.instalment_id == applied.instalment_id
    else:
        due = session.get_one(Invoice, applied.invoice_id).amount_cents
        recorded = Payment.invoice_id == applied.invoice_id
    total = int(session.scalar(select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(recorded)) or 0)
    name = _charge_name(session, applied)
    warning = (
        f"pagamento parcial: {format_brl(amount_cents)} de {format_brl(due)}; o pagamento foi registrado e "
        f"{name} continua em aberto"
    )
    if total >= due:
        warning += (
            f" (somados, os pagamentos registrados chegam a {format_brl(total)}: confira e dê baixa "
            "manualmente)"
        )
    return warning


def _reused_id(session: Session, applied: confirmations.Applied, item: _Parsed) -> str | None:
    """Why a row whose id was already imported is an error (the id was used for another payment), or None
    when it is the same payment again."""
    if item.supplied_id is None:
        return None  # a derived id is a digest of the payment itself
    stored = session.get_one(Payment, applied.payment_id)
    reference = (stored.details or {}).get("reference")
    if reference == item.confirmation.reference and stored.amount_cents == item.confirmation.amount_cents:
        return None
    return (
        f"o identificador '{item.supplied_id}' já foi usado em outro pagamento (referência '{reference}', "
        f"{format_brl(stored.amount_cents)}); cada pagamento precisa de um identificador próprio"
    )


def _unknown_reference(session: Session, confirmation: Confirmation) -> str:
    reference, cnpj = confirmation.reference, confirmation.creditor_cnpj
    at_creditor = f" do credor {display_cnpj(cnpj)}" if cnpj else ""
    if references.parse_instalment_reference(reference) is not None:
        return (
            f"parcela '{reference}' não encontrada{at_creditor} (confira o número do acordo e da parcela: "
            "A<acordo>P<parcela>)"
        )
    if not cnpj:
        creditors = session.scalar(
            select(func.count(func.distinct(Invoice.creditor_id))).where(Invoice.external_ref == reference)
        )
        if creditors and creditors > 1:
            return (
                f"a referência '{reference}' existe em mais de um credor; informe o credor na coluna "
                "cnpj_credor ou com --creditor"
            )
    return f"nenhuma fatura{at_creditor} com a referência '{reference}' (importe as faturas antes)"
