"""Reading a payments file: its columns (`PAYMENT_FIELDS`) and each row turned into a
`bot.payments.providers.Confirmation` (`parse_paid_at`, the payment's id, the row's creditor).
`bot.imports.payments.import_payments` applies the rows; see docs/importing.md ("Payments file").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from bot.agreements import references
from bot.imports.creditors import registered_cnpj
from bot.imports.fields import BRAZIL_TZ, CellError, display_cnpj, parse_cnpj, parse_date, parse_value
from bot.imports.reading import FieldSpec, ImportFileError, Row
from bot.localtime import local_date
from bot.money import format_brl
from bot.payments.providers import MAX_AMOUNT_CENTS, Confirmation

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
    instalment = references.parse_instalment_reference(raw)
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
