"""`regua cases ...`: the agents' queue of payment claims ("já paguei"), disputes and payments that did
not match what was charged (bot.payments.mismatches)."""

from __future__ import annotations

import click

from bot.answers import claims
from bot.cli.imports import fail, open_database
from bot.models import Case, CaseKind, CaseStatus
from bot.money import format_brl
from bot.people import accounts

_KINDS = {
    "pagamento": CaseKind.PAYMENT_CLAIM,
    "contestacao": CaseKind.DISPUTE,
    "parcial": CaseKind.PARTIAL_PAYMENT,
    "acordo": CaseKind.PAYMENT_ON_AGREEMENT,
    "cancelada": CaseKind.PAYMENT_ON_CANCELLED,
    "duplicidade": CaseKind.DUPLICATE_PAYMENT,
}
_KIND_NAMES = {
    CaseKind.PAYMENT_CLAIM: "já paguei",
    CaseKind.DISPUTE: "contestação",
    CaseKind.PARTIAL_PAYMENT: "pagamento parcial",
    CaseKind.PAYMENT_ON_AGREEMENT: "pagamento de fatura em acordo",
    CaseKind.PAYMENT_ON_CANCELLED: "pagamento de cobrança cancelada",
    CaseKind.DUPLICATE_PAYMENT: "pagamento em duplicidade",
}
_WIDTH = max(map(len, _KIND_NAMES.values()))


@click.group()
def cases() -> None:
    """Casos para a equipe: pagamentos informados pelo devedor, contestações e pagamentos que não
    conferem com a cobrança (parcial, fatura em acordo ou cancelada, em duplicidade)."""


@cases.command("list")
@click.option("--kind", type=click.Choice(sorted(_KINDS)), help="Só um tipo de caso.")
def list_command(kind: str | None) -> None:
    """Lista os casos abertos, do mais antigo ao mais novo."""
    database = open_database()
    try:
        with database.session() as session:
            rows = claims.open_cases(session, _KINDS[kind] if kind else None)
            if not rows:
                click.echo("Nenhum caso aberto.")
            for case in rows:
                click.echo(
                    f"{case.id:>6}  {_KIND_NAMES[case.kind]:{_WIDTH}}  {case.created_at:%d/%m %H:%M}  "
                    f"{_charge(case):22}  {_evidence(case)}"
                )
    finally:
        database.dispose()


def _charge(case: Case) -> str:
    """The invoice (or agreement) a case is about."""
    if case.invoice is not None:
        return f"fatura {case.invoice.external_ref}"
    if case.agreement_id is not None:
        return f"acordo {case.agreement_id}"
    return "fatura -"


def _evidence(case: Case) -> str:
    """The receipts a debtor sent, or the payments (and what was due) of a payment case."""
    payments = [item for item in case.evidence if "payment_id" in item]
    if payments:
        parts = []
        for item in payments:
            due = item.get("due_cents")
            owed = f" de {format_brl(due)}" if due is not None else ""
            parts.append(f"pagamento {item['payment_id']}: {format_brl(item['amount_cents'])}{owed}")
        return "; ".join(parts)
    return f"{len(case.evidence)} anexo(s)" if case.evidence else "sem anexo"


@cases.command()
@click.argument("case_id", type=int)
@click.option("--note", required=True, help="O que foi decidido (fica no histórico).")
@click.option(
    "--resume",
    is_flag=True,
    help="Retoma a cobrança da fatura ou do acordo (ex.: contestação improcedente, pagamento acertado).",
)
@click.option("--user", "email", required=True, help="E-mail de quem resolveu (cadastrado em regua user).")
def resolve(case_id: int, note: str, resume: bool, email: str) -> None:
    """Encerra um caso."""
    database = open_database()
    try:
        with database.session() as session:
            try:
                person = accounts.active_user(session, email)
            except accounts.AccountError as error:
                fail(str(error))
            case = session.get(Case, case_id)
            if case is None:
                fail(f"caso {case_id} não encontrado")
            if case.status != CaseStatus.OPEN:
                fail(f"o caso {case_id} já está encerrado")
            claims.resolve(
                session, case, actor=accounts.actor(person), resolution=note, resume_collection=resume
            )
    finally:
        database.dispose()
    click.echo(f"Caso {case_id} encerrado{' e cobrança retomada' if resume else ''}.")
