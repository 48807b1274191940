"""Shared fixtures.

The suite runs against whatever `DATABASE_URL` / `REDIS_URL` point at (CI: the machine's PostgreSQL and
Redis) and otherwise against the embedded defaults (a SQLite file and a private Redis in a temp dir).
Every test starts from empty tables and an empty Redis database, so no test depends on another's order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from bot import embedded_redis, migrations
from bot.config import Settings, load_settings
from bot.db import Database
from bot.models import Base, Creditor, Debtor, Invoice

PHONE = "+5511987654321"
OLD_WHATSAPP_ID = "+551187654321"  # the same mobile without its 9th digit
CPF = "52998224725"
CNPJ = "11222333000181"


def pytest_report_header(config: pytest.Config) -> list[str]:
    from bot.config import redact_url

    return [
        f"database: {redact_url(os.environ.get('DATABASE_URL') or 'embedded SQLite')}",
        f"redis: {redact_url(os.environ.get('REDIS_URL') or 'embedded redis-server')}",
    ]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database under test: `DATABASE_URL` when set, else a fresh SQLite file."""
    configured = load_settings({"DATABASE_URL": os.environ.get("DATABASE_URL", "")}).database_url
    return configured or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    """The test database, migrated to head once per session."""
    migrations.upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def _empty_tables(database: Database) -> None:
    """Empty every table. On PostgreSQL only the tables holding rows are truncated (with those referencing
    them): a test writes to a few, and TRUNCATE makes new files for each table it names, so naming all of
    them twice per test cost more than most tests. TRUNCATE rather than DELETE keeps the tables' physical
    order the insertion order, as a fresh database has it."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            return
        exists = ", ".join(f"EXISTS (SELECT 1 FROM {name})" for name in tables)
        holding = conn.execute(text(f"SELECT {exists}")).one()
        full = [name for name, rows in zip(tables, holding, strict=True) if rows]
        if full:
            conn.execute(text(f"TRUNCATE {', '.join(full)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(migrated_database: Database) -> Iterator[Database]:
    """A migrated database with empty tables."""
    _empty_tables(migrated_database)
    yield migrated_database
    _empty_tables(migrated_database)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis under test: `REDIS_URL` when set (use a spare db number), else a private server."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    directory = tmp_path_factory.mktemp("redis")
    yield embedded_redis.ensure_running(directory)
    embedded_redis.stop(directory)


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied Redis database."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    """Settings for a test: the test database and Redis, a private var dir, sandbox Twilio."""
    return load_settings(
        {
            "REGUA_ENV": "test",
            "REGUA_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-0123456789",
            # Most tests are about what a known debtor is told, not about the CPF question (whose own
            # tests set "cpf", the default): the main number is trusted here.
            "IDENTITY_CHECK": "phone",
        }
    )


@dataclass
class People:
    """Ids of the creditor and debtor created by the `people` fixture."""

    creditor_id: int
    debtor_id: int


@pytest.fixture
def people(db: Database) -> People:
    """A creditor and a debtor (mobile +55 11 98765-4321) with two open invoices and a paid one."""
    today = date.today()
    with db.session() as s:
        creditor = Creditor(legal_name="Loja Exemplo Ltda", cnpj=CNPJ, contact_channel="SAC 0800 000 0000")
        debtor = Debtor(name="Maria da Silva", cpf=CPF, phone=PHONE, timezone="America/Sao_Paulo", state="SP")
        s.add_all([creditor, debtor])
        s.add_all(
            [
                Invoice(
                    creditor=creditor,
                    debtor=debtor,
                    external_ref="F-1",
                    description="mensalidade de outubro",
                    amount_cents=15990,
                    due_date=today - timedelta(days=10),
                    pix_code=(
                        "00020126360014br.gov.bcb.pix0114+55119999900005204000053039865406159.905802BR"
                        "5912Loja Exemplo6009Sao Paulo62060502F163040EBD"
                    ),
                    boleto_line="23790001169211000121809044756170216290000015990",
                    payment_url="https://pagar.example.com.br/F-1",
                ),
                Invoice(
                    creditor=creditor,
                    debtor=debtor,
                    external_ref="F-2",
                    amount_cents=20000,
                    due_date=today + timedelta(days=5),
                ),
                Invoice(
                    creditor=creditor,
                    debtor=debtor,
                    external_ref="F-0",
                    amount_cents=5000,
                    due_date=today - timedelta(days=40),
                    status="paid",
                ),
            ]
        )
        s.flush()
        return People(creditor.id, debtor.id)
