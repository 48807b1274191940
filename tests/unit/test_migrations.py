"""Migrations go up and down cleanly on the backend under test, and match the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from bot import migrations
from bot.db import make_engine
from bot.models import Base


@pytest.fixture
def scratch_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database of the same backend as the suite's, so downgrades touch nothing else."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    assert migrations.current_revision(scratch_url) is None
    migrations.upgrade(scratch_url)
    assert migrations.is_up_to_date(scratch_url)
    assert _tables(scratch_url) == set(Base.metadata.tables)

    migrations.downgrade(scratch_url, "base")
    assert migrations.current_revision(scratch_url) is None
    assert _tables(scratch_url) == set()

    migrations.upgrade(scratch_url)
    assert migrations.current_revision(scratch_url) == migrations.head_revision()


def test_models_match_migrations(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"
