"""Reading an invoices file: its columns (`INVOICE_FIELDS`), each row checked and parsed, the creditor a
row names, and how a file's status changes a stored invoice. `bot.imports.invoices.import_invoices` writes
the rows; see docs/importing.md for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.imports.fields import (
    CellError,
    display_cnpj,
    parse_cnpj,
    parse_cpf,
    parse_date,
    parse_status,
    parse_value,
)
from bot.imports.reading import FieldSpec, Row
from bot.models import InvoiceStatus
from bot.models.base import as_utc

INVOICE_FIELDS = [
    FieldSpec(
        "referencia",
        (
            "ref",
            "referencia externa",
            "numero da fatura",
            "numero fatura",
            "fatura",
            "numero do documento",
            "numero documento",
            "id fatura",
            "external ref",
            "reference",
            "invoice",
            "invoice id",
            "invoice ref",
        ),
        True,
    ),
    FieldSpec("cpf", ("cpf do devedor", "cpf devedor", "cpf do cliente", "cpf cliente", "debtor cpf"), True),
    FieldSpec(
        "valor",
        (
            "valor r$",
            "valor em reais",
            "valor da fatura",
            "valor original",
            "valor devido",
            "amount",
            "value",
        ),
        True,
    ),
    FieldSpec(
        "vencimento",
        ("data de vencimento", "data vencimento", "dt vencimento", "venc", "due date", "due"),
        True,
    ),
    FieldSpec("descricao", ("historico", "produto", "description")),
    FieldSpec("status", ("situacao", "status da fatura", "estado da fatura")),
    FieldSpec("linha_digitavel", ("linha digitavel do boleto", "linha do boleto", "boleto", "boleto line")),
    FieldSpec("pix_copia_e_cola", ("pix", "copia e cola", "pix copia cola", "br code", "brcode", "pix code")),
    FieldSpec(
        "link_pagamento", ("link", "link de pagamento", "url de pagamento", "payment link", "payment url")
    ),
    FieldSpec("credor_cnpj", ("cnpj do credor", "cnpj credor", "credor", "cnpj", "creditor cnpj")),
]

_MAX_REF = 64
_MAX_DESCRIPTION = 200
_MAX_URL = 500
_LINE_CHARS = re.compile(r"[0-9.\s-]+")
_OPTIONAL_COLUMNS = {
    "descricao": "description",
    "linha_digitavel": "boleto_line",
    "pix_copia_e_cola": "pix_code",
    "link_pagamento": "payment_url",
}
_COMPARED = ("amount_cents", "due_date", "description", "boleto_line", "pix_code", "payment_url")
_STATUS_PT = {
    InvoiceStatus.OPEN: "aberta",
    InvoiceStatus.PAID: "paga",
    InvoiceStatus.CANCELLED: "cancelada",
    InvoiceStatus.IN_AGREEMENT: "em acordo",
}


@dataclass
class _Parsed:
    line: int
    creditor_id: int
    ref: str
    cpf: str
    status: InvoiceStatus | None
    values: dict[str, Any]


def _parse_row(
    row: Row,
    columns: set[str],
    creditor_id: int | None,
    *,
    creditor_named: bool,
    cpf_of: Callable[[str], str] = parse_cpf,
) -> tuple[_Parsed | None, list[str]]:
    """(parsed row or None, error reasons). `creditor_named`: the row's credor_cnpj cell was filled (its
    own error, if any, is reported by the caller). `cpf_of`: `parse_cpf`, possibly memoized."""
    errors: list[str] = []
    values: dict[str, Any] = {}

    ref = row.get("referencia")
    if not ref:
        errors.append("referência vazia")
    elif len(ref) > _MAX_REF:
        errors.append(f"referência longa demais ({len(ref)} caracteres; máximo {_MAX_REF})")

    cpf = ""
    try:
        cpf = cpf_of(row.get("cpf"))
    except CellError as error:
        errors.append(str(error))

    try:
        values["amount_cents"] = parse_value(row.get("valor"))
    except CellError as error:
        errors.append(str(error))

    try:
        values["due_date"] = parse_date(row.get("vencimento"), "vencimento")
    except CellError as error:
        errors.append(str(error))

    status = None
    try:
        status = parse_status(row.get("status"))
    except CellError as error:
        errors.append(str(error))

    if "descricao" in columns:
        description = " ".join(row.get("descricao").split()) or None
        if description and len(description) > _MAX_DESCRIPTION:
            errors.append(
                f"descrição longa demais ({len(description)} caracteres; máximo {_MAX_DESCRIPTION})"
            )
        values["description"] = description

    if "linha_digitavel" in columns:
        raw = row.get("linha_digitavel")
        line = None
        if raw:
            digits = re.sub(r"\D", "", raw)
            if re.fullmatch(r"[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+", raw):
                errors.append(
                    "linha digitável em notação científica: a planilha tratou a coluna como número; "
                    "formate-a como texto e exporte de novo"
                )
            elif not _LINE_CHARS.fullmatch(raw):
                errors.append("linha digitável inválida (use só dígitos, pontos e espaços)")
            elif len(digits) not in (47, 48):
                errors.append(f"linha digitável deve ter 47 ou 48 dígitos, tem {len(digits)}")
            else:
                line = digits
        values["boleto_line"] = line

    if "pix_copia_e_cola" in columns:
        values["pix_code"] = row.get("pix_copia_e_cola") or None

    if "link_pagamento" in columns:
        url = row.get("link_pagamento") or None
        if url and not url.lower().startswith(("https://", "http://")):
            errors.append("link de pagamento deve começar com https://")
        elif url and len(url) > _MAX_URL:
            errors.append(f"link de pagamento longo demais (máximo {_MAX_URL} caracteres)")
        values["payment_url"] = url

    if creditor_id is None and not creditor_named:
        errors.append("credor não informado: preencha a coluna credor_cnpj ou use --creditor")

    if errors or creditor_id is None:
        return None, errors
    return _Parsed(row.line, creditor_id, ref, cpf, status, values), errors


def _next_status(
    current: InvoiceStatus, paid_at: datetime | None, wanted: InvoiceStatus | None, now: datetime
) -> tuple[InvoiceStatus, datetime | None, str | None]:
    """(status, paid_at, warning) after applying the file's status to a stored invoice.

    Rules (docs/importing.md, "Status"): an empty status keeps the stored one; a paid invoice is never
    reopened or cancelled by an import (warning); "aberta" keeps an invoice that is in an agreement as is;
    "paga" sets paid_at to the import time.
    """
    if wanted is None or wanted == current:
        return current, paid_at, None
    if current == InvoiceStatus.PAID:
        when = f" em {as_utc(paid_at):%d/%m/%Y}" if paid_at else ""
        return (
            current,
            paid_at,
            f"a fatura já consta como paga{when}; o status '{_STATUS_PT[wanted]}' do arquivo foi ignorado "
            "(uma importação nunca reabre nem cancela uma fatura paga)",
        )
    if current == InvoiceStatus.IN_AGREEMENT and wanted == InvoiceStatus.OPEN:
        return current, paid_at, None
    return wanted, (now if wanted == InvoiceStatus.PAID else None), None


def _creditor_for_cell(raw: str, creditors: dict[str, int]) -> int | str:
    """The creditor id named by a `credor_cnpj` cell, or the Portuguese reason it names none."""
    try:
        cnpj = parse_cnpj(raw, "CNPJ do credor")
    except CellError as error:
        return str(error)
    if cnpj not in creditors:
        return f"credor com CNPJ {display_cnpj(cnpj)} não cadastrado (use 'regua creditor add')"
    return creditors[cnpj]
