"""`regua cases ...`: the agents' queue of payment claims ("já paguei") and disputes."""

from __future__ import annotations

import click

from bot import claims
from bot.cli.imports import fail, open_database
from bot.models import Case, CaseKind, CaseStatus

_KINDS = {"pagamento": CaseKind.PAYMENT_CLAIM, "contestacao": CaseKind.DISPUTE}
_KIND_NAMES = {CaseKind.PAYMENT_CLAIM: "já paguei", CaseKind.DISPUTE: "contestação"}


@click.group()
def cases() -> None:
    """Casos para a equipe: pagamentos informados pelo devedor e contestações."""


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
                invoice = case.invoice.external_ref if case.invoice else "-"
                evidence = f"{len(case.evidence)} anexo(s)" if case.evidence else "sem anexo"
                click.echo(
                    f"{case.id:>6}  {_KIND_NAMES[case.kind]:12}  {case.created_at:%d/%m %H:%M}  "
                    f"fatura {invoice:16}  {evidence}"
                )
    finally:
        database.dispose()


@cases.command()
@click.argument("case_id", type=int)
@click.option("--note", required=True, help="O que foi decidido (fica no histórico).")
@click.option("--resume", is_flag=True, help="Retoma a cobrança da fatura (ex.: contestação improcedente).")
@click.option("--agent", default="cli", show_default=True, help="Quem resolveu.")
def resolve(case_id: int, note: str, resume: bool, agent: str) -> None:
    """Encerra um caso."""
    database = open_database()
    try:
        with database.session() as session:
            case = session.get(Case, case_id)
            if case is None:
                fail(f"caso {case_id} não encontrado")
            if case.status != CaseStatus.OPEN:
                fail(f"o caso {case_id} já está encerrado")
            claims.resolve(session, case, actor=f"agent:{agent}", resolution=note, resume_collection=resume)
    finally:
        database.dispose()
    click.echo(f"Caso {case_id} encerrado{' e cobrança retomada' if resume else ''}.")
