"""Benchmark: import 100,000 invoice rows (and their debtors) through `bot.imports`.

Usage::

    .venv/bin/python bench/import_invoices.py [--rows 100000] [--debtors 40000]
    DATABASE_URL=postgresql://user@host/db .venv/bin/python bench/import_invoices.py

The database is never the configured one itself: with SQLite the bench uses a file in a temp dir; with
`DATABASE_URL` pointing at PostgreSQL it creates a scratch database `regua_bench_<pid>` on that server
(the role needs CREATEDB), migrates it, and drops it at the end. So it is safe to run with any
DATABASE_URL set.

It times, on the same data: the debtors import, the first invoices import (all rows created), the same
file again (all unchanged) and a file where every amount changed (all updated). Results go to
bench/results/import.json (the latest run at the top level, every backend under "runs") and
bench/results/import.md (a table with one row per backend).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import migrations
from bot.config import load_settings
from bot.db import Database
from bot.imports import import_debtors, import_invoices, upsert_creditor

RESULTS = Path(__file__).resolve().parent / "results"
CREDITOR_CNPJ = "11222333000181"
_DDDS = [11, 21, 31, 41, 51, 61, 71, 81, 85, 92, 65, 68]


def _cpf(rng: random.Random) -> str:
    """A random valid CPF (check digits computed here: Faker is too slow for 40,000 of them)."""
    while True:
        base = [rng.randint(0, 9) for _ in range(9)]
        if len(set(base)) > 1:
            break
    for length in (9, 10):
        total = sum(d * (length + 1 - i) for i, d in enumerate(base[:length]))
        base.append((total * 10) % 11 % 10)
    return "".join(map(str, base))


def generate(directory: Path, rows: int, debtors: int, seed: int = 7) -> tuple[Path, Path, Path]:
    """Write debtors.csv, invoices.csv and invoices_changed.csv (every amount + R$ 1,00)."""
    rng = random.Random(seed)
    cpfs: list[str] = []
    seen: set[str] = set()
    while len(cpfs) < debtors:
        cpf = _cpf(rng)
        if cpf not in seen:
            seen.add(cpf)
            cpfs.append(cpf)
    debtors_path = directory / "debtors.csv"
    with debtors_path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["nome", "cpf", "telefone", "email", "consentimento_whatsapp"])
        for i, cpf in enumerate(cpfs):
            ddd, first, rest = rng.choice(_DDDS), rng.randint(6, 9), rng.randint(0, 9_999_999)
            phone = f"({ddd}) 9{first}{rest // 10_000:03d}-{rest % 10_000:04d}"
            writer.writerow([f"Devedor Número {i}", cpf, phone, f"devedor{i}@example.com", "sim"])

    today = date.today()
    invoice_rows = []
    for i in range(rows):
        cents = rng.randint(1_000, 500_000)
        due = today + timedelta(days=rng.randint(-180, 60))
        invoice_rows.append([f"BENCH-{i:07d}", cpfs[i % debtors], cents, due.strftime("%d/%m/%Y")])

    def write(path: Path, delta: int) -> None:
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow(["referencia", "cpf", "valor", "vencimento", "descricao", "status"])
            for ref, cpf, cents, due in invoice_rows:
                value = cents + delta
                amount = f"{value // 100:,}".replace(",", ".") + f",{value % 100:02d}"
                writer.writerow([ref, cpf, amount, due, "Parcela do carnê", "aberta"])

    invoices_path, changed_path = directory / "invoices.csv", directory / "invoices_changed.csv"
    write(invoices_path, 0)
    write(changed_path, 100)
    return debtors_path, invoices_path, changed_path


@contextmanager
def scratch_database(configured: str | None, sqlite_path: Path, prefix: str = "regua_bench") -> Iterator[str]:
    """A migrated, empty database URL for a bench, removed afterwards: a SQLite file at `sqlite_path`, or a
    scratch database `<prefix>_<pid>` on the PostgreSQL server `configured` points at (its sessions ended
    and the database dropped at the end). Shared by the benchmarks."""
    if not configured or configured.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{sqlite_path}"
        migrations.upgrade(url)
        yield url
        return
    server = make_url(configured)
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
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


def _timed(label: str, func):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    report = func()
    seconds = time.perf_counter() - started
    print(f"{label:<28} {seconds:7.2f} s   {report.summary()}", flush=True)
    if not report.ok:
        raise SystemExit(f"unexpected row errors: {report.errors[:5]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--debtors", type=int, default=40_000)
    args = parser.parse_args()
    # Ctrl+C or a kill still runs the clean-up below (the scratch PostgreSQL database is dropped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    configured = load_settings({"DATABASE_URL": os.environ.get("DATABASE_URL", "")}).database_url
    backend = "postgresql" if configured and not configured.startswith("sqlite") else "sqlite"
    with tempfile.TemporaryDirectory(prefix="regua-bench-") as tmp:
        workdir = Path(tmp)
        print(
            f"generating {args.rows:,} invoice rows for {args.debtors:,} debtors in {workdir} ...", flush=True
        )
        debtors_csv, invoices_csv, changed_csv = generate(workdir, args.rows, args.debtors)
        with scratch_database(configured, workdir / "bench.db") as url:
            db = Database(url)
            try:
                upsert_creditor(db, cnpj=CREDITOR_CNPJ, legal_name="Bench Ltda", contact_channel="SAC 0800")
                debtors_s = _timed("debtors (create)", lambda: import_debtors(db, debtors_csv))
                first_s = _timed("invoices (create)", lambda: import_invoices(db, invoices_csv))
                again_s = _timed("invoices (same file again)", lambda: import_invoices(db, invoices_csv))
                changed_s = _timed("invoices (every amount)", lambda: import_invoices(db, changed_csv))
                server_version = ".".join(map(str, db.engine.dialect.server_version_info or ()))
            finally:
                db.dispose()

    result = {
        "rows": args.rows,
        "seconds": round(first_s, 2),
        "rows_per_second": round(args.rows / first_s),
        "database": backend,
        "database_version": server_version,
        "debtors": args.debtors,
        "debtors_seconds": round(debtors_s, 2),
        "reimport_unchanged_seconds": round(again_s, 2),
        "reimport_updated_seconds": round(changed_s, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / "import.json"
    runs = {}
    if json_path.exists():
        try:
            runs = json.loads(json_path.read_text()).get("runs", {})
        except (ValueError, AttributeError):
            runs = {}
    runs[backend] = result
    json_path.write_text(json.dumps({**result, "runs": runs}, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "import.md").write_text(_markdown(runs))
    print(f"{args.rows / first_s:,.0f} rows/s on {backend}; results in {json_path} and import.md")


def _markdown(runs: dict[str, dict]) -> str:  # type: ignore[type-arg]
    lines = [
        "# Import benchmark",
        "",
        "`bench/import_invoices.py`: 100,000 invoice rows (`;`-separated, UTF-8 with BOM, Brazilian",
        "amounts and dates) for 40,000 debtors, imported with `bot.imports` into an empty scratch database.",
        "The times include reading, validating every row and writing in one transaction; the debtors are",
        "imported first (timed separately).",
        "",
        "| database | invoice rows | create | rows/s | same file again | every amount changed "
        "| debtors (create) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(runs):
        r = runs[name]
        version = f" {r['database_version']}" if r.get("database_version") else ""
        lines.append(
            f"| {name}{version} | {r['rows']:,} | {r['seconds']:.1f} s | {r['rows_per_second']:,} | "
            f"{r['reimport_unchanged_seconds']:.1f} s | {r['reimport_updated_seconds']:.1f} s | "
            f"{r['debtors']:,} in {r['debtors_seconds']:.1f} s |"
        )
    lines += [
        "",
        "Machine: "
        + ", ".join(sorted({f"{r['cpus']} CPUs, Python {r['python']}" for r in runs.values()}))
        + ".",
        "Measured at: " + ", ".join(f"{n} {r['measured_at']}" for n, r in sorted(runs.items())) + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
