"""The data a run needs: a scratch database (a SQLite file, or a fresh PostgreSQL database dropped at the end)
and the debtors to write as, loaded by the tree under test itself (`tree_seed.py`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.inbound.constants import BENCH_VAR, SECRET_KEY, WHATSAPP_FROM
from bench.inbound.load import Person
from bench.inbound.processes import Tree, run_in_tree

TREE_SEED = Path(__file__).with_name("tree_seed.py")


@contextlib.contextmanager
def scratch_database(configured: str | None, name: str) -> Iterator[str]:
    """An empty database's URL (not migrated: the tree under test migrates it), removed afterwards: the
    SQLite file `var/bench/<name>.db` unless `configured` is a PostgreSQL URL, else the database `name` on
    that server (its sessions ended and the database dropped at the end)."""
    if not configured or configured.startswith("sqlite"):
        path = BENCH_VAR / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    server = make_url(configured)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed_people(
    tree: Tree, database_url: str, count: int, conversations: list[tuple[int, int]], workdir: Path
) -> list[Person]:
    """Have `tree` migrate `database_url` and load the demo creditor through its CSV import; return `count`
    debtors with a phone of their own, those in the index ranges `conversations` with a conversation made
    beforehand (for rasa_rest)."""
    options = {
        "url": database_url,
        "count": count,
        "conversations": [list(r) for r in conversations],
        "workdir": str(workdir),
        "our_address": WHATSAPP_FROM,
    }
    env = {
        "REGUA_ENV": "test",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REGUA_VAR_DIR": str(workdir / "var"),
    }
    rows = json.loads(run_in_tree(tree, TREE_SEED.read_text(), json.dumps(options), env=env))
    return [Person(r["debtor_id"], r["twilio"], r["conversation_id"]) for r in rows]
