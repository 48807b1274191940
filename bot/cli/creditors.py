"""`regua creditor add|list|payments|policy|cadence|webhook-secret`: the companies whose receivables
Régua collects."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bot.cli.imports import fail, open_database
from bot.imports import InvalidCreditor, list_creditors, upsert_creditor
from bot.imports.fields import display_cnpj

_DONE = {
    "created": "Credor cadastrado",
    "updated": "Credor atualizado",
    "unchanged": "Credor já cadastrado, sem alteração",
}


@click.group()
def creditor() -> None:
    """Credores: cadastrar e listar."""


@creditor.command()
@click.option("--cnpj", required=True, help="CNPJ do credor (com ou sem pontuação).")
@click.option("--name", "legal_name", required=True, help="Razão social.")
@click.option("--trade-name", help="Nome fantasia (o nome que o devedor conhece).")
@click.option(
    "--contact",
    required=True,
    help='Canal de contato do credor citado nas mensagens, ex.: "SAC 0800 000 0000".',
)
def add(cnpj: str, legal_name: str, trade_name: str | None, contact: str) -> None:
    """Cadastra um credor, ou atualiza nome e contato se o CNPJ já existir."""
    database = open_database()
    try:
        result = upsert_creditor(
            database,
            cnpj=cnpj,
            legal_name=legal_name,
            trade_name=trade_name,
            contact_channel=contact,
            actor="cli",
        )
    except InvalidCreditor as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(f"{_DONE[result.action]}: {result.display_name} (CNPJ {display_cnpj(result.cnpj)}).")


@creditor.command("list")
def list_command() -> None:
    """Lista os credores com o número de faturas."""
    database = open_database()
    try:
        rows = list_creditors(database)
    finally:
        database.dispose()
    if not rows:
        click.echo("Nenhum credor cadastrado. Cadastre um com 'regua creditor add'.")
        return
    table = Table(title=f"Credores ({len(rows)})", title_justify="left")
    table.add_column("CNPJ", no_wrap=True)
    table.add_column("Razão social")
    table.add_column("Nome fantasia")
    table.add_column("Contato")
    table.add_column("Faturas", justify="right")
    table.add_column("Em aberto", justify="right")
    for row in rows:
        table.add_row(
            display_cnpj(row.cnpj),
            row.legal_name,
            row.trade_name or "",
            row.contact_channel,
            f"{row.invoices:,}".replace(",", "."),
            f"{row.open_invoices:,}".replace(",", "."),
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)


def _percent_to_bps(value: float | None) -> int | None:
    # Percentages typed by an operator ("2", "0.33") become integer basis points; never stored as floats.
    return None if value is None else round(value * 100)


@creditor.command()
@click.option("--cnpj", required=True, help="CNPJ do credor.")
@click.option("--pix-key", help="Chave Pix do credor (CPF, CNPJ, e-mail, +55... ou aleatória).")
@click.option("--city", help="Cidade do credor (vai no QR Code do Pix).")
@click.option("--bank", "boleto_bank_code", help="Código do banco emissor dos boletos, ex.: 001.")
@click.option("--convenio", "boleto_agreement", help="Convênio de cobrança no banco (até 7 dígitos).")
@click.option("--fine", type=float, help="Multa por atraso, em % (máximo 2).")
@click.option("--interest", type=float, help="Juros de mora, em % ao mês (máximo 1).")
@click.option("--claim-pause-days", type=int, help="Dias de pausa nos lembretes após um 'já paguei'.")
def payments(cnpj: str, fine: float | None, interest: float | None, **values: object) -> None:
    """Configura os pagamentos de um credor: chave Pix, boletos, multa e juros."""
    from bot.payments.setup import InvalidSetting, configure_payments, find_creditor

    database = open_database()
    try:
        with database.session() as session:
            found = find_creditor(session, cnpj)
            changed = configure_payments(
                session,
                found,
                actor="cli",
                fine_bps=_percent_to_bps(fine),
                monthly_interest_bps=_percent_to_bps(interest),
                **values,
            )
    except InvalidSetting as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(f"Pagamentos atualizados: {', '.join(changed) or 'nada mudou'}.")


@creditor.command()
@click.option("--cnpj", required=True, help="CNPJ do credor.")
@click.option("--max-instalments", type=int, help="Número máximo de parcelas.")
@click.option("--min-instalment", type=str, help="Valor mínimo da parcela, ex.: 50,00.")
@click.option("--interest", type=float, help="Juros do parcelamento, em % ao mês (tabela Price).")
@click.option("--cash-discount", type=float, help="Desconto para pagamento à vista, em %.")
@click.option("--down-payment", type=float, help="Entrada mínima, em % do total.")
@click.option("--first-due-days", type=int, help="Dias até o vencimento da primeira parcela.")
@click.option("--break-after-days", type=int, help="Dias de atraso de uma parcela que quebram o acordo.")
@click.option(
    "--max-promise-days", type=int, help="Até quantos dias à frente aceitar uma promessa de pagamento."
)
def policy(
    cnpj: str,
    max_instalments: int | None,
    min_instalment: str | None,
    interest: float | None,
    cash_discount: float | None,
    down_payment: float | None,
    first_due_days: int | None,
    break_after_days: int | None,
    max_promise_days: int | None,
) -> None:
    """Define a política de acordos do credor: o robô nunca oferece nada fora dela."""
    from bot.money import InvalidAmount, format_brl, parse_amount
    from bot.payments.setup import InvalidSetting, configure_policy, find_creditor

    try:
        minimum = parse_amount(min_instalment) if min_instalment is not None else None
    except InvalidAmount as error:
        fail(f"valor mínimo da parcela inválido: {error}")
    database = open_database()
    try:
        with database.session() as session:
            saved = configure_policy(
                session,
                find_creditor(session, cnpj),
                actor="cli",
                max_instalments=max_instalments,
                min_instalment_cents=minimum,
                monthly_interest_bps=_percent_to_bps(interest),
                cash_discount_bps=_percent_to_bps(cash_discount),
                min_down_payment_bps=_percent_to_bps(down_payment),
                first_due_days=first_due_days,
                break_after_days=break_after_days,
                max_promise_days=max_promise_days,
            )
            summary = (
                f"até {saved.max_instalments}x, parcela mínima {format_brl(saved.min_instalment_cents)}, "
                f"juros {saved.monthly_interest_bps / 100:.2f}% a.m., "
                f"desconto à vista {saved.cash_discount_bps / 100:.2f}%, "
                f"entrada mínima {saved.min_down_payment_bps / 100:.2f}%"
            )
    except InvalidSetting as error:
        fail(str(error))
    finally:
        database.dispose()
    click.echo(f"Política de acordos: {summary}.")


@creditor.command()
@click.option("--cnpj", required=True, help="CNPJ do credor.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--default", "use_default", is_flag=True, help="Volta à régua padrão da Régua.")
def cadence(cnpj: str, file: str | None, use_default: bool) -> None:
    """Define a régua (YAML) do credor, validada antes de ser gravada (ver docs/reminders.md)."""
    from pathlib import Path

    from bot.payments.setup import InvalidSetting, find_creditor
    from bot.reminders.cadence import CadenceError, load_cadence

    if bool(file) == use_default:
        fail("informe um arquivo YAML ou --default")
    text = None
    if file:
        text = Path(file).read_text(encoding="utf-8")
        try:
            parsed = load_cadence(text, label=Path(file).name)
        except CadenceError as error:
            fail(f"régua inválida: {error}")
    database = open_database()
    try:
        with database.session() as session:
            found = find_creditor(session, cnpj)
            found.cadence_yaml = text
    except InvalidSetting as error:
        fail(str(error))
    finally:
        database.dispose()
    if text is None:
        click.echo("Régua padrão restaurada.")
        return
    click.echo(f"Régua '{parsed.name}' gravada: {len(parsed.steps)} etapa(s).")
    for warning in parsed.warnings:
        click.echo(f"Aviso: {warning}")


@creditor.command("webhook-secret")
@click.option("--cnpj", required=True, help="CNPJ do credor.")
@click.option(
    "--rotate", is_flag=True, help="Troca o segredo; o anterior continua aceito até --drop-previous."
)
@click.option("--drop-previous", is_flag=True, help="Deixa de aceitar o segredo anterior (fim da troca).")
def webhook_secret(cnpj: str, rotate: bool, drop_previous: bool) -> None:
    """Cria ou troca o segredo do credor para o webhook de pagamentos (exibido uma única vez)."""
    from bot.payments import webhook_secrets
    from bot.payments.setup import InvalidSetting, find_creditor

    if rotate and drop_previous:
        fail("use --rotate ou --drop-previous, não os dois")
    database = open_database()
    secret = None
    try:
        with database.session() as session:
            found = find_creditor(session, cnpj)
            if drop_previous:
                dropped = webhook_secrets.drop_previous(session, found, actor="cli")
            else:
                secret = webhook_secrets.issue(session, found, rotate=rotate, actor="cli")
    except InvalidSetting as error:
        fail(str(error))
    finally:
        database.dispose()
    if secret is None:
        click.echo("Segredo anterior descartado." if dropped else "Não havia segredo anterior a descartar.")
        return
    # Printed once and never stored anywhere else: the operator hands it to the creditor now.
    click.echo(f"Novo segredo do webhook de pagamentos: {secret}")
    click.echo(
        f"Guarde-o agora: ele não será exibido de novo. Assine o corpo com HMAC-SHA256 no cabeçalho "
        f"X-Regua-Signature e informe o CNPJ em {webhook_secrets.CREDITOR_HEADER}."
    )
    if rotate:
        click.echo(
            "O segredo anterior continua aceito até 'regua creditor webhook-secret "
            f"--cnpj {cnpj} --drop-previous'."
        )
