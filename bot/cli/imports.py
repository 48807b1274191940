"""`regua import debtors|invoices|payments FILE`: load a creditor's CSV files (logic lives in `bot.imports`).

Exit status: 0 when every row was imported (warnings allowed), 1 when some rows failed (the others were
imported), 2 when the file could not be imported at all (nothing was written).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click
import redis

from bot import migrations, redis_client
from bot.config import Settings, get_settings, redact_url
from bot.db import Database
from bot.imports import (
    ImportFileError,
    ImportReport,
    RowError,
    import_debtors,
    import_invoices,
    import_payments,
)
from bot.runtime import RqLater

EXIT_ROW_ERRORS = 1
EXIT_FILE_ERROR = 2


def fail(message: str, code: int = EXIT_FILE_ERROR) -> NoReturn:
    """Print "Erro: ..." on stderr and exit with `code`."""
    click.echo(f"Erro: {message}", err=True)
    sys.exit(code)


def open_database() -> Database:
    """The configured database, after checking its schema is current (else a clear error, exit 2)."""
    url = get_settings().effective_database_url
    try:
        current = migrations.is_up_to_date(url)
    except Exception as error:  # connection refused, bad credentials...
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        fail(f"não foi possível abrir o banco de dados {redact_url(url)}: {detail}")
    if not current:
        fail("o esquema do banco de dados não está atualizado; rode 'regua db upgrade' (ou 'regua setup')")
    return Database(url)


def _write_errors_file(path: Path, report: ImportReport) -> None:
    rows = [(e, "erro") for e in report.errors] + [(w, "aviso") for w in report.warnings]
    rows.sort(key=lambda item: item[0].line)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["linha", "tipo", "motivo"])
        writer.writerows([problem.line, kind, problem.reason] for problem, kind in rows)


def _print_problems(title: str, problems: list[RowError], limit: int, noun: str) -> None:
    if not problems:
        return
    click.echo(f"{title} ({len(problems)}):")
    for problem in problems[:limit]:
        click.echo(f"  {problem}")
    if len(problems) > limit:
        click.echo(f"  ... e mais {len(problems) - limit} {noun} (use --errors-file para a lista completa)")


def print_report(report: ImportReport, *, max_errors: int) -> None:
    """The report for an operator: ignored columns, errors, warnings, then the counts (always last)."""
    if report.ignored_columns:
        click.echo(
            "Colunas ignoradas (nome não reconhecido): " + ", ".join(f"'{c}'" for c in report.ignored_columns)
        )
    _print_problems("Linhas com erro, não importadas", report.errors, max_errors, "erros")
    _print_problems("Avisos", report.warnings, max_errors, "avisos")
    source = f" ({report.file_name})" if report.file_name else ""
    seconds = f"{report.seconds:.1f}".replace(".", ",")
    click.echo(
        f"{report.label}{source}: {report.summary()} — {report.rows} linhas, {report.encoding}, "
        f"separador {report.separator}, {seconds} s"
    )


def run_import(run: Callable[[Database], ImportReport], *, errors_file: Path | None, max_errors: int) -> None:
    database = open_database()
    try:
        report = run(database)
    except ImportFileError as error:
        fail(str(error))
    finally:
        database.dispose()
    print_report(report, max_errors=max_errors)
    if errors_file is not None:
        _write_errors_file(errors_file, report)
        click.echo(f"Lista de erros e avisos gravada em {errors_file}")
    if not report.ok:
        sys.exit(EXIT_ROW_ERRORS)


def _common_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--max-errors",
        default=50,
        show_default=True,
        type=click.IntRange(min=0),
        help="Quantos erros (e avisos) mostrar na tela.",
    )(command)
    command = click.option(
        "--errors-file",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Grava todos os erros e avisos neste CSV (linha;tipo;motivo).",
    )(command)
    return command


FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group("import")
def import_group() -> None:
    """Importa devedores, faturas e pagamentos recebidos de arquivos CSV (veja docs/importing.md)."""


@import_group.command()
@FILE
@_common_options
def debtors(file: Path, errors_file: Path | None, max_errors: int) -> None:
    """Importa devedores (nome, cpf, telefone, ...). Reimportar o mesmo arquivo não altera nada."""
    progress = sys.stderr.isatty()
    run_import(
        lambda db: import_debtors(db, file, progress=progress, actor="cli"),
        errors_file=errors_file,
        max_errors=max_errors,
    )


@import_group.command()
@FILE
@click.option(
    "--creditor",
    "creditor_cnpj",
    metavar="CNPJ",
    help="CNPJ do credor das faturas (dispensável se houver só um credor ou a coluna credor_cnpj).",
)
@_common_options
def invoices(file: Path, creditor_cnpj: str | None, errors_file: Path | None, max_errors: int) -> None:
    """Importa faturas (referencia, cpf, valor, vencimento, ...). Os devedores precisam existir."""
    progress = sys.stderr.isatty()
    run_import(
        lambda db: import_invoices(db, file, creditor_cnpj, progress=progress, actor="cli"),
        errors_file=errors_file,
        max_errors=max_errors,
    )


@import_group.command()
@FILE
@click.option(
    "--creditor",
    "creditor_cnpj",
    metavar="CNPJ",
    help="CNPJ do credor dos pagamentos (para as linhas sem a coluna cnpj_credor).",
)
@_common_options
def payments(file: Path, creditor_cnpj: str | None, errors_file: Path | None, max_errors: int) -> None:
    """Importa pagamentos recebidos (referencia, valor, data_pagamento) e dá baixa nas faturas e parcelas.

    Reimportar o mesmo arquivo não altera nada.
    """
    progress = sys.stderr.isatty()
    settings = get_settings()

    def run(db: Database) -> ImportReport:
        report = import_payments(db, file, creditor_cnpj, progress=progress, actor="cli", settings=settings)
        thanked = report.thanked_conversations
        if thanked:
            messages = f"{len(thanked)} {'mensagens' if len(thanked) > 1 else 'mensagem'} de agradecimento"
            if deliver_thanks(settings, thanked):
                click.echo(f"{messages} na fila de envio.")
            else:
                click.echo(
                    f"{messages} aguardando envio: o Redis não está acessível agora; o worker envia "
                    "quando estiver no ar."
                )
        return report

    run_import(run, errors_file=errors_file, max_errors=max_errors)


def deliver_thanks(settings: Settings, conversation_ids: list[int]) -> bool:
    """Enqueue delivery of the thank-you messages an import queued. False when Redis is not reachable:
    the messages are saved as pending and the worker's periodic sweep sends them.

    The embedded Redis is used only if it is already running (an import does not start servers).
    """
    try:
        if settings.redis_url:
            conn = redis_client.connect(settings)
        else:
            conn = redis.Redis.from_url(
                settings.effective_redis_url, socket_timeout=5, socket_connect_timeout=3
            )
        conn.ping()
    except (redis.RedisError, OSError):
        return False
    try:
        later = RqLater(conn)
        for conversation_id in sorted(set(conversation_ids)):
            later.deliver(conversation_id)
    finally:
        conn.close()
    return True
