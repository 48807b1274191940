"""Loading a creditor's data: creditors, and debtors, invoices and payments received from CSV files.

The public API (wrapped by `regua creditor ...` and `regua import ...`)::

    upsert_creditor(db, cnpj=..., legal_name=..., contact_channel=..., trade_name=None) -> CreditorUpsert
    list_creditors(db) -> list[CreditorRow]
    import_debtors(db, path_or_file, *, progress=False, actor="system") -> ImportReport
    import_invoices(db, path_or_file, creditor_cnpj=None, *, progress=False, actor="system") -> ImportReport
    import_payments(db, path_or_file, creditor_cnpj=None, *, progress=False, actor="system", settings=None)
        -> PaymentImportReport (an ImportReport that also lists `thanked_conversations`, to deliver)

An `ImportReport` counts rows created, updated, unchanged and failed, and lists a `RowError(line, reason)`
per failed row (and per warning), with Portuguese reasons that never contain a full CPF. A file that cannot
be imported at all (unreadable, a required column missing, an unknown creditor) raises `ImportFileError`
and writes nothing. Formats and rules: docs/importing.md.

Modules: `reading` (encodings, separators, headers, line numbers), `fields` (cell parsers with Portuguese
errors), `debtors`, `invoices` (its rows read in `invoice_rows`), `payments` (its rows read in
`payment_rows`, applied through `bot.payments.confirmations.apply`), `creditors`, `store` (chunked look-ups
and bulk writes), `report`.
"""

from bot.imports.creditors import (
    CreditorRow,
    CreditorUpsert,
    InvalidCreditor,
    list_creditors,
    upsert_creditor,
)
from bot.imports.debtors import DEBTOR_FIELDS, import_debtors
from bot.imports.invoices import INVOICE_FIELDS, import_invoices
from bot.imports.payments import PAYMENT_FIELDS, PaymentImportReport, import_payments
from bot.imports.reading import FieldSpec, ImportFileError
from bot.imports.report import ImportReport, RowError

__all__ = [
    "DEBTOR_FIELDS",
    "INVOICE_FIELDS",
    "PAYMENT_FIELDS",
    "CreditorRow",
    "CreditorUpsert",
    "FieldSpec",
    "ImportFileError",
    "ImportReport",
    "InvalidCreditor",
    "PaymentImportReport",
    "RowError",
    "import_debtors",
    "import_invoices",
    "import_payments",
    "list_creditors",
    "upsert_creditor",
]
