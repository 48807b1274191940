"""People and roles: password rules and hashes, accounts, `regua user`, and the login rate limiter."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.breaker import CircuitBreaker
from bot.cli import main
from bot.config import ConfigError, Settings, load_settings, override
from bot.db import Database
from bot.models import AuditLog, User, UserRole
from bot.people import accounts, passwords
from bot.people.login_limits import LoginLimiter
from bot.people.roles import NotAllowed, Permission, can, parse_role, require
from tests.unit.conftest import run
from tests.unit.console_people import PASSWORD, make_user


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("curta-123", "pelo menos 12 caracteres"),
        ("a" * 129, "no máximo 128"),
        ("aaaaaaaaaaaaaa", "previsível"),
        ("abcabcabcabcabc", "previsível"),
        ("123456789012", "previsível"),
        ("password1234", "muito comum"),
        ("Flamengo2026!", "muito comum"),
        ("ana.souza-1987x", "seu nome ou o seu e-mail"),
        ("Souza#cafe-2026", "seu nome ou o seu e-mail"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_portuguese_reason(password: str, why: str) -> None:
    problem = passwords.weakness(password, email="ana.souza@regua.example", name="Ana Souza")
    assert problem is not None and why in problem


def test_a_long_unusual_password_is_accepted_and_hashed_with_argon2id() -> None:
    assert passwords.weakness(PASSWORD, email="ana@regua.example", name="Ana Souza") is None
    hashed = passwords.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert passwords.verify_password(hashed, PASSWORD)
    assert not passwords.verify_password(hashed, PASSWORD + "x")
    assert not passwords.verify_password(None, PASSWORD)
    assert not passwords.verify_password("not-a-hash", PASSWORD)


def test_roles_grant_what_the_issue_says_and_nothing_to_a_disabled_person() -> None:
    agent, supervisor, admin, ops = (
        User(role=r, active=True) for r in (UserRole.AGENT, UserRole.SUPERVISOR, UserRole.ADMIN, UserRole.OPS)
    )
    assert can(agent, Permission.TAKE) and not can(agent, Permission.SEE_ALL)
    assert not can(agent, Permission.ASSIGN) and not can(agent, Permission.MANAGE_PEOPLE)
    assert can(supervisor, Permission.SEE_ALL) and can(supervisor, Permission.ASSIGN)
    assert not can(supervisor, Permission.MANAGE_PEOPLE)
    assert all(can(admin, p) for p in Permission)
    # The NLU inbox: ops, supervisors and admins; ops read every conversation but take and assign none.
    assert can(ops, Permission.NLU_INBOX) and can(supervisor, Permission.NLU_INBOX)
    assert not can(agent, Permission.NLU_INBOX)
    assert can(ops, Permission.SEE_ALL) and not can(ops, Permission.TAKE) and not can(ops, Permission.ASSIGN)
    assert not can(ops, Permission.CASES) and not can(ops, Permission.MANAGE_PEOPLE)
    assert parse_role("OPS") == UserRole.OPS
    assert not can(User(role=UserRole.ADMIN, active=False), Permission.USE_CONSOLE)
    assert not can(None, Permission.USE_CONSOLE)
    with pytest.raises(NotAllowed, match="permissão"):
        require(agent, Permission.ASSIGN)
    assert parse_role(" Supervisor ") == UserRole.SUPERVISOR
    with pytest.raises(ValueError, match="papel desconhecido"):
        parse_role("chefe")


def test_accounts_are_unique_by_email_in_any_case_and_every_change_is_audited(db: Database) -> None:
    user_id = make_user(db, "agent", "Ana@Regua.Example")
    with db.session() as s, pytest.raises(accounts.AccountError, match="já existe"):
        accounts.add(
            s, email="ANA@regua.example", name="Outra", role=UserRole.AGENT, password=PASSWORD, by="cli"
        )
    with db.session() as s:
        assert accounts.authenticate(s, "ANA@REGUA.EXAMPLE", PASSWORD) is not None
        user = s.get_one(User, user_id)
        assert user.email == "ana@regua.example" and user.last_login_at is not None
        old_token = user.session_token
        accounts.reset_password(s, "ana@regua.example", "nova-senha-comprida-77", by="cli")
        assert user.session_token != old_token
        accounts.disable(s, "ana@regua.example", by="cli")
    with db.session() as s:
        assert accounts.authenticate(s, "ana@regua.example", "nova-senha-comprida-77") is None
        rows = s.execute(select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id)).all()
    assert [tuple(r) for r in rows] == [
        ("test", "user.added"),
        (f"agent:{user_id}", "user.logged_in"),
        ("cli", "user.password_reset"),
        ("cli", "user.disabled"),
        (f"agent:{user_id}", "user.login_failed"),
    ]


def test_regua_user_add_list_disable_and_reset_password(cli_env, db: Database) -> None:  # type: ignore[no-untyped-def]
    added = CliRunner().invoke(
        main,
        ["user", "add", "--email", "Sil@Regua.Example", "--name", "Silvia Prado", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert added.exit_code == 0, added.output
    assert "Cadastrado(a): Silvia Prado <sil@regua.example>, Administrador(a)." in added.output
    listed = run("user", "list").output
    assert "sil@regua.example" in listed and "admin" in listed and "nunca" in listed
    reset = CliRunner().invoke(
        main,
        ["user", "reset-password", "sil@regua.example", "--password-stdin"],
        input="outra-senha-bem-longa-9\n",
    )
    assert reset.exit_code == 0 and "Senha alterada" in reset.output
    assert run("user", "disable", "sil@regua.example").exit_code == 0
    assert "DESATIVADO" in run("user", "list").output
    with db.session() as s:
        user = s.scalars(select(User)).one()
        assert not user.active and passwords.verify_password(user.password_hash, "outra-senha-bem-longa-9")


def test_regua_user_add_refuses_weak_or_mistyped_passwords_politely(cli_env, db: Database) -> None:  # type: ignore[no-untyped-def]
    def add(stdin: str, *extra: str):  # type: ignore[no-untyped-def]
        args = [
            "user",
            "add",
            "--email",
            "ana@regua.example",
            "--name",
            "Ana Souza",
            "--role",
            "agent",
            *extra,
        ]
        return CliRunner().invoke(main, args, input=stdin)

    weak = add("senha123\n", "--password-stdin")
    assert weak.exit_code == 1 and "A senha precisa ter pelo menos 12 caracteres." in weak.output
    mistyped = add(f"{PASSWORD}\noutra-coisa-qualquer\n")
    assert mistyped.exit_code != 0
    assert add("x\n", "--password-stdin", "--role", "chefe").exit_code == 2  # unknown role: usage error
    assert "Nenhuma pessoa cadastrada" in run("user", "list").output
    assert run("user", "disable", "ninguem@regua.example").exit_code == 1


def _limiter(settings: Settings, url: str, breaker: CircuitBreaker | None = None) -> LoginLimiter:
    limited = override(settings, login_rate_limit="3/minute", login_rate_limit_per_address="5/minute")
    return LoginLimiter(limited, url, breaker)


def test_failed_logins_are_counted_per_email_and_per_address_in_redis(
    settings: Settings, redis_conn, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    limiter = _limiter(settings, redis_url)
    for _ in range(3):
        assert limiter.allowed("ana@regua.example", "10.0.0.1")
        limiter.failed("ana@regua.example", "10.0.0.1")
    assert not limiter.allowed("ANA@regua.example", "10.0.0.9")  # the e-mail is over its limit
    assert limiter.allowed("bia@regua.example", "10.0.0.1")
    limiter.failed("bia@regua.example", "10.0.0.1")
    limiter.failed("caio@regua.example", "10.0.0.1")
    assert not limiter.allowed("davi@regua.example", "10.0.0.1")  # the address is over its limit
    keys = b" ".join(redis_conn.keys("*"))
    assert b"regua:login" in keys and b"ana" not in keys and b"10.0.0" not in keys  # hashed, not written


def test_with_redis_down_failed_logins_are_counted_in_memory_not_forgotten(settings: Settings) -> None:
    breaker = CircuitBreaker("Redis", 1, 60.0)
    limiter = _limiter(settings, "redis://127.0.0.1:1/0", breaker)
    for _ in range(3):
        assert limiter.allowed("ana@regua.example", "10.0.0.1")
        limiter.failed("ana@regua.example", "10.0.0.1")
    assert breaker.is_open
    assert not limiter.allowed("ana@regua.example", "10.0.0.1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOGIN_RATE_LIMIT": "muitas"}, "LOGIN_RATE_LIMIT must be limits"),
        ({"LOGIN_RATE_LIMIT_PER_ADDRESS": "10/fortnight"}, "LOGIN_RATE_LIMIT_PER_ADDRESS must be limits"),
        ({"CONSOLE_IDLE_MINUTES": "1"}, "CONSOLE_IDLE_MINUTES must be between 5 and 1440"),
        ({"CONSOLE_SESSION_HOURS": "doze"}, "CONSOLE_SESSION_HOURS must be a whole number"),
        (
            {"CONSOLE_IDLE_MINUTES": "120", "CONSOLE_SESSION_HOURS": "1"},
            "must not exceed CONSOLE_SESSION_HOURS",
        ),
    ],
)
def test_console_settings_fail_loudly_on_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"REGUA_ENV": "test", "SECRET_KEY": "x" * 20, **env})
