"""`regua lgpd ...`: the data subject's rights (LGPD art. 18) and retention, for operators.

Every command is audited with its actor: `--actor`, or the operating-system user (a later issue brings
real user accounts). Audit rows hold counts, never the CPF or other personal data. See docs/privacy.md.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.cli.imports import fail, open_database
from bot.config import Settings, get_settings
from bot.documents import mask_cpf
from bot.imports.fields import CellError, parse_cpf
from bot.models import Debtor, Invoice, InvoiceStatus
from bot.privacy import erasure, export, retention, summary
from bot.privacy.subjects import conversations_of, find_subject

EXIT_NOT_FOUND = 1


def _actor(name: str | None) -> str:
    return f"cli:{name or getpass.getuser()}"[:80]


def _cpf(raw: str) -> str:
    try:
        return parse_cpf(raw.strip())
    except CellError as error:
        fail(str(error))


@contextmanager
def _subject(cpf: str, *, erased: bool = False) -> Iterator[tuple[Settings, Session, Debtor]]:
    """The settings, a session (committed on exit) and the data subject with this CPF; exits with a
    clear message when there is none (with `erased`, none that was anonymised and is still blocked)."""
    number = _cpf(cpf)
    settings = get_settings()
    database = open_database()
    try:
        with database.session() as session:
            debtor = find_subject(session, settings.erasure_key, number)
            if erased and debtor is not None and (debtor.erased_at is None or debtor.erased_key is None):
                debtor = None
            if debtor is None:
                anonymised = " anonimizado" if erased else ""
                fail(f"nenhum titular{anonymised} com o CPF {mask_cpf(number)}", EXIT_NOT_FOUND)
            yield settings, session, debtor
    finally:
        database.dispose()


_CPF = click.option("--cpf", required=True, help="CPF do titular (com ou sem pontuação).")
_ACTOR = click.option("--actor", help="Quem atende o pedido (padrão: o usuário do sistema).")


@click.group()
def lgpd() -> None:
    """Direitos do titular (LGPD): exportar e anonimizar dados, e a retenção."""


@lgpd.command("export")
@_CPF
@click.option(
    "--format", "fmt", type=click.Choice(["json", "md"]), default="json", show_default=True,
    help="Na saída padrão: JSON completo ou o resumo legível (Markdown).",
)  # fmt: skip
@click.option(
    "--output-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Grava os dois arquivos (JSON e resumo) nesta pasta, em vez da saída padrão.",
)  # fmt: skip
@_ACTOR
def export_command(cpf: str, fmt: str, output_dir: Path | None, actor: str | None) -> None:
    """Exporta tudo o que a Régua guarda sobre o titular (acesso e portabilidade)."""
    with _subject(cpf) as (_, session, debtor):
        data = export.collect(session, debtor)
        audit.record(
            session,
            _actor(actor),
            "lgpd.export",
            "debtor",
            debtor.id,
            format="files" if output_dir else fmt,
            counts=export.counts(data),
        )
    as_json = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if output_dir is None:
        click.echo(as_json if fmt == "json" else summary.render(data), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    stem = output_dir / f"titular-{data['person']['id']}"
    for path, content in (
        (stem.with_suffix(".json"), as_json),
        (stem.with_suffix(".md"), summary.render(data)),
    ):
        path.write_text(content, encoding="utf-8")
        path.chmod(0o600)  # personal data: readable only by the operator
        click.echo(f"Gravado: {path}")


@lgpd.command()
@_CPF
@click.option("--yes", is_flag=True, help="Não pede confirmação.")
@_ACTOR
def erase(cpf: str, yes: bool, actor: str | None) -> None:
    """Anonimiza o titular e suas mensagens; mantém valores, pagamentos e o pedido de não ser contatado."""
    with _subject(cpf) as (settings, session, debtor):
        if debtor.erased_at is None and not yes:
            _confirm_erasure(session, debtor, _cpf(cpf))
        done = erasure.erase(session, debtor, key=settings.erasure_key, actor=_actor(actor))
        if done.already_erased:
            audit.record(session, _actor(actor), "lgpd.erase", "debtor", debtor.id, already_erased=True)
    if done.already_erased:
        click.echo(
            f"Os dados deste titular já foram anonimizados em {done.erased_at:%d/%m/%Y}. Nada a fazer."
        )
        return
    try:
        erasure.forget_trackers(settings.redis_url, done.conversation_ids)
    except (redis.RedisError, OSError) as error:
        click.echo(
            "Aviso: o histórico do assistente (Rasa) no Redis não pôde ser apagado agora "
            f"({type(error).__name__}); ele expira sozinho em {settings.retention_tracker_days} dias.",
            err=True,
        )
    click.echo(
        f"Titular anonimizado: {done.conversations} conversa(s), {done.messages} mensagem(ns), "
        f"{done.reminders_stopped} lembrete(s) cancelado(s). Valores, pagamentos e acordos foram mantidos."
    )


def _confirm_erasure(session: Session, debtor: Debtor, cpf: str) -> None:
    statuses = list(session.scalars(select(Invoice.status).where(Invoice.debtor_id == debtor.id)))
    still_open = sum(1 for status in statuses if status == InvoiceStatus.OPEN)
    conversations = len(conversations_of(session, debtor))
    click.confirm(
        f"Anonimizar o titular do CPF {mask_cpf(cpf)} ({len(statuses)} fatura(s), {still_open} em aberto; "
        f"{conversations} conversa(s))? Valores, pagamentos e acordos ficam, sem identificação; a cobrança "
        "por mensagens para. Não pode ser desfeito.",
        abort=True,
    )


@lgpd.command("allow-reimport")
@_CPF
@click.option("--yes", is_flag=True, help="Não pede confirmação.")
@_ACTOR
def allow_reimport(cpf: str, yes: bool, actor: str | None) -> None:
    """Permite importar de novo um CPF anonimizado (só com nova base legal, ex.: um novo contrato)."""
    with _subject(cpf, erased=True) as (_, session, debtor):
        if not yes:
            click.confirm(
                f"O titular do CPF {mask_cpf(_cpf(cpf))} pediu a eliminação dos dados em "
                f"{debtor.erased_at:%d/%m/%Y}. Há nova base legal para tratar os dados dele?",
                abort=True,
            )
        debtor.erased_key = None  # the anonymised record stays; a new import creates a new one
        audit.record(session, _actor(actor), "lgpd.allow_reimport", "debtor", debtor.id)
    click.echo("O CPF pode ser importado de novo; o registro anonimizado continua como estava.")


@lgpd.command("retention")
def retention_command() -> None:
    """Anonimiza agora o que passou do prazo de retenção (o worker faz isso uma vez por dia)."""
    settings = get_settings()
    database = open_database()
    try:
        result = retention.run(database, settings, budget_seconds=3600)
    finally:
        database.dispose()
    click.echo(
        f"Retenção: {result.bodies} mensagem(ns) com mais de {settings.retention_body_days} dias, "
        f"{result.unknown_messages} de números desconhecidos e {result.unknown_numbers} número(s) "
        "desconhecido(s) anonimizados."
    )
