"""Cases in the console: the open cases (`regua cases list`) as rows an agent reads, and resolving one.

Resolving calls the same service as `regua cases resolve` (bot.answers.claims.resolve), audited under
the person; `resume_collection` is the CLI's `--resume`. Who may see and resolve cases is decided in
bot.people.roles (`Permission.CASES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.answers import claims
from bot.models import Agreement, Case, CaseKind, CaseStatus, Debtor, User
from bot.people import accounts
from bot.people.roles import Permission, require

KIND_LABELS: dict[CaseKind, str] = {
    CaseKind.PAYMENT_CLAIM: "Já paguei",
    CaseKind.DISPUTE: "Contestação",
    CaseKind.PARTIAL_PAYMENT: "Pagamento parcial",
    CaseKind.PAYMENT_ON_AGREEMENT: "Pagamento de fatura em acordo",
    CaseKind.PAYMENT_ON_CANCELLED: "Pagamento de cobrança cancelada",
    CaseKind.DUPLICATE_PAYMENT: "Pagamento em duplicidade",
}
MAX_ROWS = 200


class CaseError(Exception):
    """The case cannot be resolved (unknown, already closed, no note); the message is pt-BR."""


@dataclass(frozen=True)
class CaseRow:
    """One open case as the console shows it."""

    id: int
    kind: str
    debtor: str
    creditor: str
    charge: str  # "fatura NF-123" or "acordo 7"
    amount_cents: int | None
    since: datetime
    conversation_id: int | None
    evidence: int  # receipts or payments attached


def open_count(session: Session) -> int:
    """How many cases are open (for the console's navigation)."""
    return session.scalar(select(func.count(Case.id)).where(Case.status == CaseStatus.OPEN)) or 0


def open_rows(session: Session, me: User) -> list[CaseRow]:
    """The oldest open cases (at most `MAX_ROWS`), with debtor, creditor and amount."""
    require(me, Permission.CASES)
    rows = []
    for case in claims.open_cases(session)[:MAX_ROWS]:
        debtor = session.get(Debtor, case.debtor_id)
        agreement = session.get(Agreement, case.agreement_id) if case.agreement_id else None
        if case.invoice is not None:
            creditor, charge = case.invoice.creditor, f"fatura {case.invoice.external_ref}"
            amount: int | None = case.invoice.amount_cents
        elif agreement is not None:
            creditor, charge, amount = agreement.creditor, f"acordo {agreement.id}", agreement.total_cents
        else:
            creditor, charge, amount = None, "-", None
        rows.append(
            CaseRow(
                id=case.id,
                kind=KIND_LABELS[case.kind],
                debtor=debtor.name if debtor else "-",
                creditor=creditor.display_name if creditor else "-",
                charge=charge,
                amount_cents=amount,
                since=case.created_at,
                conversation_id=case.conversation_id,
                evidence=len(case.evidence or []),
            )
        )
    return rows


def resolve(session: Session, me: User, case_id: int, *, note: str, resume_collection: bool) -> Case:
    """Close the case with what was decided, as `regua cases resolve` does, audited under `me`."""
    require(me, Permission.CASES)
    note = " ".join(note.split())
    if not note:
        raise CaseError("Escreva o que foi decidido: a nota fica no histórico do caso.")
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise CaseError(f"Caso {case_id} não encontrado.")
    if case.status != CaseStatus.OPEN:
        raise CaseError(f"O caso {case_id} já está encerrado.")
    claims.resolve(
        session, case, actor=accounts.actor(me), resolution=note[:2000], resume_collection=resume_collection
    )
    return case
