"""Import debtors from CSV, idempotent on CPF. See docs/importing.md for the format and the rules."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import get_settings
from bot.conversation import contacts
from bot.db import Database
from bot.imports.fields import (
    CellError,
    masked,
    parse_consent,
    parse_cpf,
    parse_email,
    parse_phone,
    parse_uf,
    phone_region,
)
from bot.imports.reading import FieldSpec, Row, Source, read_csv
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
from bot.models import Channel, Debtor, OptOutAction, OptOutEvent, utcnow
from bot.models.base import as_utc
from bot.phones import UF_TIMEZONE
from bot.privacy.subjects import keyed_hash

__all__ = ["DEBTOR_FIELDS", "import_debtors"]

DEBTOR_FIELDS = [
    FieldSpec("nome", ("name", "nome completo", "nome do cliente", "cliente", "devedor", "full name"), True),
    FieldSpec("cpf", ("cpf do cliente", "cpf do devedor", "documento", "document", "tax id"), True),
    FieldSpec(
        "telefone",
        ("celular", "telefone 1", "celular 1", "fone", "telefone celular", "phone", "phone 1", "mobile"),
        True,
    ),
    FieldSpec(
        "telefone2",
        ("celular 2", "fone 2", "telefone secundario", "outro telefone", "phone 2", "secondary phone"),
    ),
    FieldSpec("email", ("e-mail", "mail", "endereco de email")),
    FieldSpec("uf", ("estado", "state")),
    FieldSpec(
        "consentimento_whatsapp",
        (
            "opt in whatsapp",
            "aceita whatsapp",
            "whatsapp consent",
            "consent whatsapp",
        ),
    ),
    FieldSpec(
        "consentimento_sms",
        ("opt in sms", "aceita sms", "sms consent", "consent sms"),
    ),
    FieldSpec("observacoes", ("observacao", "obs", "notas", "notes", "note")),
    FieldSpec("segmento", ("segmento do cliente", "carteira", "perfil", "segment")),
]

_MAX_NAME = 200
_MAX_SEGMENT = 40
_COLUMNS = (
    "name",
    "phone",
    "phone_secondary",
    "email",
    "state",
    "timezone",
    "notes",
    "segment",
    "whatsapp_consent_at",
    "sms_consent_at",
)
ERASED_CPF = (
    "CPF {cpf} pertence a uma pessoa cujos dados foram eliminados a pedido dela (LGPD); linha não "
    "importada (veja 'regua lgpd allow-reimport' em docs/privacy.md)"
)
_CHANNEL_LABEL = {Channel.WHATSAPP: "WhatsApp", Channel.SMS: "SMS"}


@dataclass
class _Parsed:
    line: int
    cpf: str
    values: dict[str, Any]  # the columns this file sets (absent optional columns are left out)
    consent: dict[Channel, datetime | bool | None]  # per channel: date, True ("sim"), False, None (empty)


def _parse_row(row: Row, columns: set[str], now: datetime) -> tuple[_Parsed, list[str], list[str]]:
    """(parsed row, error reasons, warnings) for one data row; the row is usable only without errors
    (its `cpf` is "" when the CPF itself is bad)."""
    errors: list[str] = []
    warnings: list[str] = []
    values: dict[str, Any] = {}

    name = " ".join(row.get("nome").split())
    if not name:
        errors.append("nome vazio")
    elif len(name) > _MAX_NAME:
        errors.append(f"nome longo demais ({len(name)} caracteres; máximo {_MAX_NAME})")
    values["name"] = name

    cpf = ""
    try:
        cpf = parse_cpf(row.get("cpf"))
    except CellError as error:
        errors.append(str(error))

    phone = None
    try:
        phone, mobile = parse_phone(row.get("telefone"))
        if not mobile:
            warnings.append("o telefone é fixo: SMS e WhatsApp precisam de celular")
    except CellError as error:
        errors.append(str(error))
    values["phone"] = phone

    if "telefone2" in columns:
        secondary = None
        if row.get("telefone2"):
            try:
                secondary, mobile = parse_phone(row.get("telefone2"), "telefone2")
                if not mobile:
                    warnings.append("o telefone2 é fixo: SMS e WhatsApp precisam de celular")
            except CellError as error:
                errors.append(str(error))
        values["phone_secondary"] = None if secondary == phone else secondary

    if "email" in columns:
        try:
            values["email"] = parse_email(row.get("email"))
        except CellError as error:
            errors.append(str(error))

    uf = None
    try:
        uf = parse_uf(row.get("uf"))
    except CellError as error:
        errors.append(str(error))
    if phone is not None:
        phone_uf, phone_tz = phone_region(phone)
        values["state"] = uf or phone_uf
        # The DDD's zone is finer than the state's (western Pará), so it wins when both agree.
        values["timezone"] = UF_TIMEZONE[uf] if uf and uf != phone_uf else phone_tz

    if "observacoes" in columns:
        values["notes"] = row.get("observacoes") or None

    if "segmento" in columns:
        # Metrics are sliced by it (docs/metrics.md): spaces collapsed and lower case, so "Varejo " and
        # "varejo" are one segment.
        segment = " ".join(row.get("segmento").split()).lower() or None
        if segment is not None and len(segment) > _MAX_SEGMENT:
            errors.append(f"segmento longo demais ({len(segment)} caracteres; máximo {_MAX_SEGMENT})")
        values["segment"] = segment

    consent: dict[Channel, datetime | bool | None] = {}
    for channel, column in ((Channel.WHATSAPP, "consentimento_whatsapp"), (Channel.SMS, "consentimento_sms")):
        if column in columns:
            try:
                consent[channel] = parse_consent(row.get(column), now, column)
            except CellError as error:
                errors.append(str(error))

    return _Parsed(row.line, cpf, values, consent), errors, warnings


def _consent_value(
    channel: Channel, wanted: datetime | bool | None, existing: dict[str, Any] | None, now: datetime
) -> tuple[datetime | None, str | None]:
    """(consent timestamp to store, warning) for one channel. See docs/importing.md, "Consent"."""
    column = f"{channel.value}_consent_at"
    stored = as_utc(existing[column]) if existing else None
    if wanted is None or wanted is False:
        return stored, None  # an import never withdraws consent: that is an opt-out
    target = now if wanted is True else wanted
    if wanted is True and stored is not None:
        return stored, None
    if existing and existing[f"{channel.value}_opted_out_at"] is not None and target != stored:
        opted_out = as_utc(existing[f"{channel.value}_opted_out_at"])
        when = f" em {opted_out:%d/%m/%Y}" if opted_out else ""
        return stored, (
            f"consentimento de {_CHANNEL_LABEL[channel]} do arquivo ignorado: o devedor pediu para não "
            f"receber mensagens nesse canal{when}"
        )
    return target, None


def import_debtors(
    db: Database,
    source: Source,
    *,
    progress: bool = False,
    actor: str = "system",
    erasure_key: bytes | None = None,
) -> ImportReport:
    """Import (create or update) the debtors of a CSV file. Idempotent on CPF.

    A row whose CPF belongs to a person erased on request (bot.privacy) is refused as an error; the
    keyed hash that recognises it uses `erasure_key` (default: the configured `Settings.erasure_key`).

    `source` is a path or an open file (bytes or text). Bad rows are reported in the returned
    `ImportReport` and skipped; good rows are written in one transaction, with one `AuditLog` row.
    Raises `ImportFileError` when the file as a whole cannot be imported (nothing is written then).
    """
    started = time.monotonic()
    csv_file = read_csv(source, DEBTOR_FIELDS)
    report = ImportReport.of_file(csv_file, kind="debtors")
    now = utcnow()

    with Progress(progress, len(csv_file.rows)) as bar:
        parsed: list[_Parsed] = []
        first_line: dict[str, int] = {}
        with bar.phase("validando", len(csv_file.rows)) as advance:
            for row in csv_file.rows:
                item, errors, warnings = _parse_row(row, csv_file.columns, now)
                # The first row with a CPF claims it, even if it is bad: fixing that row later must not
                # turn a later copy of it from "imported" into "duplicate".
                if item.cpf in first_line:
                    earlier = first_line[item.cpf]
                    errors = [f"CPF {masked(item.cpf)} repetido no arquivo (já aparece na linha {earlier})"]
                elif item.cpf:
                    first_line[item.cpf] = row.line
                if errors:
                    report.errors.append(RowError(row.line, "; ".join(errors)))
                else:
                    report.warnings.extend(RowError(row.line, w) for w in warnings)
                    parsed.append(item)
                advance(1)

        with db.session() as session:
            # LGPD: a person erased on request does not come back from an old file unnoticed.
            refused = _erased_cpfs(db, session, [p.cpf for p in parsed], erasure_key)
            if refused:
                report.errors.extend(
                    RowError(p.line, ERASED_CPF.format(cpf=masked(p.cpf))) for p in parsed if p.cpf in refused
                )
                parsed = [p for p in parsed if p.cpf not in refused]
            existing = _load_existing(db, session, [p.cpf for p in parsed])
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            opt_ins: list[tuple[str, Channel]] = []  # (cpf, channel) whose consent is recorded now
            renumbered: list[int] = []  # debtors whose phones changed: conversations must follow
            for item in parsed:
                current = existing.get(item.cpf)
                values = dict(item.values)
                for channel, wanted in item.consent.items():
                    value, warning = _consent_value(channel, wanted, current, now)
                    values[f"{channel.value}_consent_at"] = value
                    if warning:
                        report.warnings.append(RowError(item.line, warning))
                    before = as_utc(current[f"{channel.value}_consent_at"]) if current else None
                    if value is not None and before is None:
                        opt_ins.append((item.cpf, channel))
                if current is None:
                    inserts.append(
                        {c: None for c in _COLUMNS}
                        | values
                        | {"cpf": item.cpf, "created_at": now, "updated_at": now}
                    )
                    continue
                changes = {
                    column: value
                    for column, value in values.items()
                    if _normalized(current[column]) != _normalized(value)
                }
                if changes:
                    updates.append({"id": current["id"], **changes, "updated_at": now})
                    if changes.keys() & {"phone", "phone_secondary"}:
                        renumbered.append(current["id"])
                    report.updated += 1
                else:
                    report.unchanged += 1
            report.created = len(inserts)

            with bar.phase("gravando", len(inserts) + len(updates)) as advance:
                bulk_insert(session, Debtor, inserts, advance)
                bulk_update(session, Debtor, updates, advance)
            new_numbers = [n for row in inserts for n in (row["phone"], row["phone_secondary"]) if n]
            contacts.reresolve(session, renumbered, new_numbers)
            if opt_ins:
                ids = _load_existing(db, session, [cpf for cpf, _ in opt_ins])
                events = [
                    {
                        "debtor_id": ids[cpf]["id"],
                        "channel": channel,
                        "address": ids[cpf]["phone"],
                        "action": OptOutAction.OPT_IN,
                        "source": "import",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for cpf, channel in opt_ins
                ]
                bulk_insert(session, OptOutEvent, events, lambda _n: None)
            report.errors.sort()
            report.warnings.sort()
            report.seconds = time.monotonic() - started
            audit(session, actor=actor, action="import.debtors", details=report.audit_details())
    if report.created + report.updated >= ANALYZE_AFTER_ROWS:
        analyze(db, "debtors", "opt_out_events")
    report.seconds = time.monotonic() - started
    return report


def _erased_cpfs(db: Database, session: Session, cpfs: list[str], key: bytes | None) -> set[str]:
    """The CPFs among `cpfs` of people erased on request (matched by the keyed hash erasure left)."""
    if session.scalar(select(Debtor.id).where(Debtor.erased_key.is_not(None)).limit(1)) is None:
        return set()  # nobody was ever erased: no key needed
    key = key if key is not None else get_settings().erasure_key
    by_hash = {keyed_hash(key, cpf): cpf for cpf in cpfs}
    found: set[str] = set()
    for batch in chunks(sorted(by_hash), lookup_chunk(db)):
        found.update(
            by_hash[h]
            for h in session.scalars(select(Debtor.erased_key).where(one_of(db, Debtor.erased_key, batch)))
        )
    return found


def _normalized(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def _load_existing(db: Database, session: Session, cpfs: list[str]) -> dict[str, dict[str, Any]]:
    """The stored debtors with these CPFs, by CPF, as plain dicts of the importable columns."""
    columns = [Debtor.id, Debtor.cpf, *(getattr(Debtor, c) for c in _COLUMNS)]
    columns += [Debtor.whatsapp_opted_out_at, Debtor.sms_opted_out_at]
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(sorted(set(cpfs)), lookup_chunk(db)):
        for row in session.execute(select(*columns).where(one_of(db, Debtor.cpf, batch))).mappings():
            found[row["cpf"]] = dict(row)
    return found
