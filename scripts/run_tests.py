"""`make test`: the unit tests and the integration tests side by side, each with its own database.

Why side by side: the integration tests spend most of their time waiting for the processes they start
(Rasa loading a model, a browser, a load of webhooks), so on two cores the unit tests fit beside them and
the suite takes about the integration tests' time instead of the sum.

Why their own database: both empty tables between tests. With `DATABASE_URL` naming PostgreSQL, the unit
tests use `<database>_unit` on the same server (created when missing); with `REDIS_URL`, the unit tests
use Redis database `UNIT_REDIS_DB`.
Without them each run gets its own SQLite file and private Redis anyway (tests/conftest.py).

Arguments go to both runs (`make test PYTEST_ARGS=--durations=40`); with a path among them (a file or a
test), one plain `pytest` runs instead. The unit run's output is printed when both are done.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

UNIT_REDIS_DB = 12  # the integration tests use the URL's, 14 (their stack) and 13 (a second stack)


def _unit_database(url: str) -> str:
    """The unit tests' PostgreSQL database beside `url`'s, created when missing; other URLs unchanged."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return url
    name = f"{parsed.database}_unit"
    engine = create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _unit_redis(url: str) -> str:
    parsed = make_url(url.replace("redis://", "postgresql://", 1))  # only to reuse its URL parsing
    rendered = parsed.set(database=str(UNIT_REDIS_DB)).render_as_string(hide_password=False)
    return rendered.replace("postgresql://", "redis://", 1)


def _unit_env() -> dict[str, str]:
    env = dict(os.environ)
    if env.get("DATABASE_URL"):
        env["DATABASE_URL"] = _unit_database(env["DATABASE_URL"])
    if env.get("REDIS_URL", "").startswith("redis://"):
        env["REDIS_URL"] = _unit_redis(env["REDIS_URL"])
    return env


def main(args: list[str]) -> int:
    """Run the suite; the exit status is the worse of the two runs'."""
    pytest = [sys.executable, "-m", "pytest", *args]
    if any(not arg.startswith("-") for arg in args):
        return subprocess.call(pytest)
    with tempfile.TemporaryDirectory(prefix="regua-unit-") as scratch:
        log = Path(scratch) / "unit.log"
        with log.open("w") as out:
            unit = subprocess.Popen(
                [*pytest, "-m", "not integration", "-p", "no:cacheprovider"],
                env=_unit_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                integration = subprocess.call([*pytest, "-m", "integration"])
            finally:
                unit_status = unit.wait()
        print("\n==== unit tests (run beside the integration tests) ====", flush=True)
        print(log.read_text(errors="replace"), flush=True)
    return max(integration, unit_status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
