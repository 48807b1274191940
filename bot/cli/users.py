"""`regua user ...`: the people who use the console (add, list, disable, reset a password).

Run by whoever administers the server, so the audit actor is "cli". Passwords are asked twice without
echo, or read from one line of standard input with `--password-stdin` (for scripts); never an option,
which would leave them in the shell history and the process list.
"""

from __future__ import annotations

import sys

import click

from bot.cli.imports import fail, open_database
from bot.localtime import local_datetime
from bot.models import UserRole
from bot.people import accounts
from bot.people.roles import ROLE_LABELS, parse_role

EXIT_REFUSED = 1


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Senha", hide_input=True, confirmation_prompt="Repita a senha", err=True)


def _role(_ctx: click.Context, _param: click.Parameter, value: str) -> UserRole:
    try:
        return parse_role(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group("user")
def user() -> None:
    """Pessoas que usam o console: cadastrar, listar, desativar e trocar a senha."""


@user.command("add")
@click.option("--email", required=True, help="E-mail, usado para entrar no console.")
@click.option("--name", required=True, help="Nome da pessoa.")
@click.option(
    "--role",
    required=True,
    callback=_role,
    help="agent (agente), supervisor, admin (administrador) ou ops (operação de NLU).",
)
@click.option("--password-stdin", is_flag=True, help="Lê a senha da entrada padrão (uma linha).")
def add(email: str, name: str, role: UserRole, password_stdin: bool) -> None:
    """Cadastra uma pessoa (pede a senha duas vezes)."""
    try:
        address = accounts.normalize_email(email)
    except accounts.AccountError as error:
        fail(str(error), EXIT_REFUSED)
    password = _password(password_stdin)
    database = open_database()
    try:
        with database.session() as session:
            person = accounts.add(session, email=address, name=name, role=role, password=password, by="cli")
            click.echo(f"Cadastrado(a): {person.name} <{person.email}>, {ROLE_LABELS[role]}.")
    except accounts.AccountError as error:
        fail(str(error), EXIT_REFUSED)
    finally:
        database.dispose()


@user.command("list")
def list_command() -> None:
    """Lista as pessoas cadastradas."""
    database = open_database()
    try:
        with database.session() as session:
            people = accounts.everyone(session)
            if not people:
                click.echo("Nenhuma pessoa cadastrada. Crie a primeira com: regua user add --role admin ...")
            for p in people:
                seen = (
                    local_datetime(p.last_login_at).strftime("%d/%m/%Y %H:%M") if p.last_login_at else "nunca"
                )
                status = "ativo" if p.active else "DESATIVADO"
                click.echo(
                    f"{p.email:32}  {p.name:24}  {p.role.value:10}  {status:10}  último acesso: {seen}"
                )
    finally:
        database.dispose()


@user.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Desativa o acesso de uma pessoa (as sessões abertas terminam na hora)."""
    database = open_database()
    try:
        with database.session() as session:
            person = accounts.disable(session, email, by="cli")
            click.echo(f"Acesso desativado: {person.email}.")
    except accounts.AccountError as error:
        fail(str(error), EXIT_REFUSED)
    finally:
        database.dispose()


@user.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Lê a nova senha da entrada padrão (uma linha).")
def reset_password(email: str, password_stdin: bool) -> None:
    """Define uma nova senha (as sessões abertas da pessoa terminam na hora)."""
    database = open_database()
    try:
        with database.session() as session:
            if accounts.find(session, email) is None:
                fail(f"nenhuma pessoa cadastrada com o e-mail {email.strip().lower()}", EXIT_REFUSED)
        password = _password(password_stdin)
        with database.session() as session:
            person = accounts.reset_password(session, email, password, by="cli")
            click.echo(f"Senha alterada: {person.email}.")
    except accounts.AccountError as error:
        fail(str(error), EXIT_REFUSED)
    finally:
        database.dispose()
