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

import hashlib
import re
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import agreements
from bot.config import Settings, get_settings
from bot.db import Database
from bot.imports.creditors import registered_cnpj
from bot.imports.fields import BRAZIL_TZ, CellError, display_cnpj, parse_cnpj, parse_date, parse_value
from bot.imports.reading import FieldSpec, ImportFileError, Row, Source, read_csv
from bot.imports.report import ImportReport, Progress, RowError
from bot.imports.store import audit
from bot.localtime import local_date
from bot.models import Creditor, Instalment, Invoice, Payment
from bot.money import format_brl
from bot.payments import confirmations
from bot.payments.providers import MAX_AMOUNT_CENTS, Confirmation

__all__ = ["PAYMENT_FIELDS", "PROVIDER", "PaymentImportReport", "import_payments", "parse_paid_at"]

PROVIDER = "file"

PAYMENT_FIELDS = [
    FieldSpec(
        "referencia",
        (
            "ref",
            "referencia externa",
            "referencia da fatura",
            "fatura",
            "numero da fatura",
            "numero fatura",
            "documento",
            "numero do documento",
            "numero documento",
            "seu numero",
            "id fatura",
            "parcela",
            "reference",
            "external ref",
            "invoice",
            "invoice id",
        ),
        True,
    ),
    FieldSpec(
        "valor",
        (
            "valor pago",
            "valor recebido",
            "valor do pagamento",
            "valor pagamento",
            "valor r$",
            "valor pago r$",
            "valor em reais",
            "amount",
            "amount paid",
            "paid amount",
            "value",
        ),
        True,
    ),
    FieldSpec(
        "data_pagamento",
        (
            "data do pagamento",
            "data de pagamento",
            "data pagamento",
            "dt pagamento",
            "pago em",
            "data",
            "data da liquidacao",
            "data de liquidacao",
            "liquidacao",
            "paid at",
            "paid on",
            "payment date",
        ),
        True,
    ),
    FieldSpec(
        "cnpj_credor",
        ("credor_cnpj", "cnpj do credor", "cnpj credor", "credor", "cnpj", "creditor cnpj"),
    ),
    FieldSpec(
        "id",
        (
            "identificador",
            "id do pagamento",
            "id pagamento",
            "autenticacao",
            "codigo de autenticacao",
            "autenticacao bancaria",
            "nsu",
            "end to end",
            "end to end id",
            "id da transacao",
            "id transacao",
            "payment id",
            "transaction id",
        ),
    ),
]

_MAX_REF = 64
_MAX_ID = 80  # stored as "<CNPJ>:<id>" in payments.external_id (100 characters)
_DATE_WHAT = "data do pagamento"
_TIME = re.compile(r"[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


@dataclass
class PaymentImportReport(ImportReport):
    """An `ImportReport` that also lists the conversations where a thank-you was queued (to deliver)."""

    kind: str = "payments"
    thanked_conversations: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "Pagamentos"


@dataclass
class _Parsed:
    line: int
    confirmation: Confirmation
    supplied_id: str | None


def parse_paid_at(raw: str, today: date) -> datetime:
    """The payment moment in UTC from "dd/mm/aaaa" (00:00 in Brasília), "dd/mm/aaaa hh:mm[:ss]" (Brasília
    time) or ISO 8601 ("2025-03-10T14:30:00-03:00"; without an offset, Brasília time).

    `today` is the current date in Brasília: a later payment date is an error.
    """
    try:
        day = parse_date(raw, _DATE_WHAT)
    except CellError as error:
        text = str(error).replace(f"{_DATE_WHAT} inválido", f"{_DATE_WHAT} inválida")
        raise CellError(text.replace(f"{_DATE_WHAT} vazio", f"{_DATE_WHAT} vazia")) from None
    match = _TIME.search(raw)
    moment_of_day, zone = time(0, 0), BRAZIL_TZ
    if match:
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise CellError(f"{_DATE_WHAT} inválida {raw!r} (hora inexistente)")
        moment_of_day = time(hour, minute, second)
        zone = _zone(match.group(4)) or BRAZIL_TZ
    moment = datetime.combine(day, moment_of_day, tzinfo=zone)
    local_day = local_date(moment)
    if local_day > today:
        raise CellError(f"{_DATE_WHAT} no futuro ({local_day:%d/%m/%Y})")
    return moment.astimezone(UTC)


def _zone(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)


def _reference(raw: str) -> str:
    """The reference as `apply` matches it; instalment references in their canonical form ("A12P3")."""
    instalment = agreements.parse_instalment_reference(raw)
    return f"A{instalment[0]}P{instalment[1]}" if instalment else raw


def _external_id(
    cnpj: str | None, reference: str, paid_at: datetime, amount_cents: int, supplied: str
) -> str:
    """The payment's id under the "file" provider: the file's id scoped by the creditor's CNPJ, or a digest
    of what identifies the payment when the file has none (stable across imports of the same row)."""
    if supplied:
        return f"{cnpj}:{supplied}" if cnpj else supplied
    key = "|".join([cnpj or "", reference, paid_at.isoformat(), str(amount_cents)])
    return "auto:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:48]


def _default_cnpj(creditors: dict[str, int], creditor_cnpj: str | None) -> str | None:
    """The CNPJ for rows without one: `creditor_cnpj`, else the only registered creditor, else None (each
    reference then finds its own creditor)."""
    if creditor_cnpj:
        return registered_cnpj(creditors, creditor_cnpj)
    if not creditors:
        raise ImportFileError(
            "nenhum credor cadastrado; cadastre o credor e importe as faturas antes de importar pagamentos"
        )
    return next(iter(creditors)) if len(creditors) == 1 else None


def _cell_cnpj(raw: str, creditors: dict[str, int]) -> str:
    """The normalized CNPJ of a `cnpj_credor` cell naming a registered creditor, or `CellError`."""
    cnpj = parse_cnpj(raw, "CNPJ do credor")
    if cnpj not in creditors:
        raise CellError(f"credor com CNPJ {display_cnpj(cnpj)} não cadastrado (use 'regua creditor add')")
    return cnpj


def _parse_row(
    row: Row, creditors: dict[str, int], default_cnpj: str | None, today: date
) -> tuple[_Parsed | None, list[str], str | None]:
    """(parsed row or None, error reasons, the row's creditor CNPJ as far as known)."""
    errors: list[str] = []
    cnpj = default_cnpj
    if row.get("cnpj_credor"):
        try:
            cnpj = _cell_cnpj(row.get("cnpj_credor"), creditors)
        except CellError as error:
            errors.append(str(error))
            cnpj = None

    reference = row.get("referencia")
    if not reference:
        errors.append("referência vazia")
    elif len(reference) > _MAX_REF:
        errors.append(f"referência longa demais ({len(reference)} caracteres; máximo {_MAX_REF})")
    reference = _reference(reference)

    amount = 0
    try:
        amount = parse_value(row.get("valor"))
    except CellError as error:
        errors.append(str(error))
    if amount > MAX_AMOUNT_CENTS:  # what no column or payment instrument holds: refused, never stored
        errors.append(f"valor acima do máximo aceito ({format_brl(MAX_AMOUNT_CENTS)})")

    paid_at = None
    try:
        paid_at = parse_paid_at(row.get("data_pagamento"), today)
    except CellError as error:
        errors.append(str(error))

    supplied = row.get("id")
    if len(supplied) > _MAX_ID:
        errors.append(f"identificador longo demais ({len(supplied)} caracteres; máximo {_MAX_ID})")

    if errors or paid_at is None:
        return None, errors, cnpj
    confirmation = Confirmation(
        external_id=_external_id(cnpj, reference, paid_at, amount, supplied),
        reference=reference,
        creditor_cnpj=cnpj,
        amount_cents=amount,
        paid_at=paid_at,
    )
    return _Parsed(row.line, confirmation, supplied or None), errors, cnpj


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
    if agreements.parse_instalment_reference(reference) is not None:
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
