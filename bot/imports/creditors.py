"""Registering creditors (idempotent on CNPJ) and listing them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.db import Database
from bot.imports.fields import CellError, parse_cnpj
from bot.imports.store import audit
from bot.models import Creditor, Invoice, InvoiceStatus

__all__ = ["CreditorRow", "CreditorUpsert", "InvalidCreditor", "list_creditors", "upsert_creditor"]


class InvalidCreditor(ValueError):
    """A creditor's data is not acceptable; the message is Portuguese, for the operator."""


@dataclass(frozen=True)
class CreditorUpsert:
    """What `upsert_creditor` did: "created", "updated" or "unchanged", and to which creditor."""

    action: str
    id: int
    cnpj: str
    display_name: str


@dataclass(frozen=True)
class CreditorRow:
    """A creditor with its invoice counts, for listings."""

    id: int
    cnpj: str
    legal_name: str
    trade_name: str | None
    contact_channel: str
    invoices: int
    open_invoices: int


def _clean(value: str | None, what: str, *, required: bool, limit: int = 200) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise InvalidCreditor(f"{what} não pode ficar vazio")
        return None
    if len(text) > limit:
        raise InvalidCreditor(f"{what} longo demais ({len(text)} caracteres; máximo {limit})")
    return text


def upsert_creditor(
    db: Database,
    *,
    cnpj: str,
    legal_name: str,
    contact_channel: str,
    trade_name: str | None = None,
    actor: str = "system",
) -> CreditorUpsert:
    """Create the creditor with this CNPJ, or update its names and contact channel. Idempotent.

    `trade_name=None` leaves a stored trade name as it is; pass "" to clear it.
    Raises `InvalidCreditor` (Portuguese message) for an invalid CNPJ or empty name/contact.
    """
    try:
        normalized = parse_cnpj(cnpj)
    except CellError as error:
        raise InvalidCreditor(str(error)) from None
    wanted = {
        "legal_name": _clean(legal_name, "a razão social", required=True),
        "contact_channel": _clean(contact_channel, "o contato", required=True),
    }
    if trade_name is not None:
        wanted["trade_name"] = _clean(trade_name, "o nome fantasia", required=False)
    with db.session() as session:
        creditor = session.scalars(select(Creditor).where(Creditor.cnpj == normalized)).one_or_none()
        if creditor is None:
            creditor = Creditor(cnpj=normalized, **wanted)
            session.add(creditor)
            session.flush()
            action = "created"
        else:
            changed = [k for k, v in wanted.items() if getattr(creditor, k) != v]
            for key in changed:
                setattr(creditor, key, wanted[key])
            action = "updated" if changed else "unchanged"
            session.flush()
        if action != "unchanged":
            # Company data is not personal data; still, the audit keeps only which fields changed.
            audit(
                session,
                actor=actor,
                action=f"creditor.{action}",
                entity_type="creditor",
                entity_id=str(creditor.id),
                details={"fields": sorted(wanted)} if action == "created" else {"fields": sorted(changed)},
            )
        return CreditorUpsert(action, creditor.id, creditor.cnpj, creditor.display_name)


def list_creditors(db: Database) -> list[CreditorRow]:
    """Every creditor with its number of invoices (all, and open or in agreement), by name."""
    total = func.count(Invoice.id)
    open_count = func.count(Invoice.id).filter(
        Invoice.status.in_([InvoiceStatus.OPEN, InvoiceStatus.IN_AGREEMENT])
    )
    query = (
        select(Creditor, total, open_count)
        .outerjoin(Invoice, Invoice.creditor_id == Creditor.id)
        .group_by(Creditor.id)
        .order_by(func.lower(func.coalesce(Creditor.trade_name, Creditor.legal_name)), Creditor.id)
    )
    with db.session() as session:
        return [
            CreditorRow(c.id, c.cnpj, c.legal_name, c.trade_name, c.contact_channel, n, n_open)
            for c, n, n_open in session.execute(query)
        ]


def registered_cnpj(creditors: dict[str, int], creditor_cnpj: str) -> str:
    """The CNPJ an operator named for a whole file (`--creditor`), normalized, if it is a registered
    creditor's; `ImportFileError` otherwise (nothing is imported)."""
    from bot.imports.fields import display_cnpj
    from bot.imports.reading import ImportFileError

    try:
        cnpj = parse_cnpj(creditor_cnpj, "CNPJ do credor")
    except CellError as error:
        raise ImportFileError(f"{error}. Nada foi importado") from None
    if cnpj not in creditors:
        raise ImportFileError(
            f"credor com CNPJ {display_cnpj(cnpj)} não cadastrado; cadastre-o com "
            "'regua creditor add'. Nada foi importado"
        )
    return cnpj
