"""`python -m bench.analytics`: the results dashboard on a production-sized PostgreSQL database.

Seeds (set-based `INSERT ... SELECT generate_series`, skipped when already there) 1,000,000 invoices of
500,000 debtors and 10 creditors, 1,000,000 reminders (outbox rows, one per invoice, spread over the last
year, the default cadence's four steps, two channels, variants a and b of its experiment), 3,000,000
messages (each reminder, a reply to it and the bot's answer), with the payments, payment-page openings,
copies, promises, agreements, opt-outs and handoffs they led to. Then it times the refresh of the
aggregates (bot.analytics.daily: the whole year, and the hourly job's 90 days), one month's metrics
computed live for comparison, and every dashboard view through the web app (a supervisor logged in,
Flask's test client: the server's time, no network), and writes bench/results/analytics.md and .json.
Goal: every view within 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.console.seed import ensure_database
from bot import migrations
from bot.analytics import Filters, Period, Prices, Scope, collection_metrics
from bot.analytics.daily import REFRESH_DAYS, refresh
from bot.config import load_settings
from bot.db import Database
from bot.localtime import DEFAULT_TZ, local_date
from bot.models import OutboxEntry, User, UserRole, utcnow
from bot.people import accounts
from webhooks import create_app

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/regua_bench_analytics"
SUPERVISOR = "supervisora@bench-analytics.regua.example"
PASSWORD = "Analytics-bench-2026!"  # a scratch database's only login
GOAL_S = 2.0
RUNS = 5

# Invoice i (1..1,000,000) belongs to debtor (i + 1) / 2; its one reminder went out `sent_day` days ago
# (a multiplicative hash of i, so that every day holds every creditor, step, channel, variant and
# segment, as a real book does) at 12:00 Brasília plus (i % 300) minutes, for step i % 4; what it led to
# follows from i too.
_SQL = [
    """INSERT INTO creditors (legal_name, trade_name, cnpj, contact_channel, created_at, updated_at)
       SELECT 'Credora Analítica ' || k || ' Ltda', 'Credora ' || k, lpad(k::text, 14, '7'), 'SAC', :now, :now
       FROM generate_series(1, 10) k""",
    """INSERT INTO debtors (name, cpf, phone, timezone, segment, verification_failures, created_at,
                            updated_at)
       SELECT 'Devedor ' || i, lpad(i::text, 11, '0'), '+55119' || (80000000 + i), 'America/Sao_Paulo',
              (ARRAY['varejo', 'alto valor', NULL])[1 + i % 3], 0, :now, :now
       FROM generate_series(1, :debtors) i""",
    """INSERT INTO conversations (debtor_id, channel, address, state, created_at, updated_at)
       SELECT id, CASE WHEN id % 5 = 0 THEN 'sms' ELSE 'whatsapp' END, phone, 'bot', :now, :now
       FROM debtors ORDER BY id""",
    """CREATE TEMP TABLE bench_plan AS
       SELECT i, (i + 1) / 2 AS debtor_n, c.ids[1 + i % 10] AS creditor_id,
              (ARRAY['lembrete_d-3', 'acompanhamento_d+1', 'aviso_d+5', 'negociacao_d+10'])[1 + i % 4]
                  AS step_id,
              (ARRAY[-3, 1, 5, 10])[1 + i % 4] AS step_offset,
              CASE i % 4 WHEN 1 THEN (ARRAY['a', 'b'])[1 + (i / 4) % 2] END AS variant,
              (CAST(:today AS date) - 1 - ((i::bigint * 2654435761 % 4294967296) % 365)::int) AS sent_day
       FROM generate_series(1, :invoices) i,
            (SELECT array_agg(id ORDER BY id) AS ids FROM creditors) c""",
    """ALTER TABLE bench_plan ADD COLUMN sent_at timestamptz""",
    """CREATE INDEX ON bench_plan (i)""",
    """UPDATE bench_plan
       SET sent_at = (sent_day + time '15:00') AT TIME ZONE 'UTC' + (i % 300) * interval '1 minute'""",
    """INSERT INTO invoices (creditor_id, debtor_id, external_ref, amount_cents, due_date, status, paid_at,
                             created_at, updated_at)
       SELECT p.creditor_id, d.id, 'AN-' || p.i, 5000 + (p.i::bigint * 7919) % 95000,
              p.sent_day - p.step_offset,
              CASE WHEN p.i % 10 < 3 THEN 'paid' ELSE 'open' END,
              CASE WHEN p.i % 10 < 3 THEN p.sent_at + (p.i % 9) * interval '1 day' + interval '2 hours' END,
              :now, :now
       FROM bench_plan p JOIN debtors d ON d.cpf = lpad(p.debtor_n::text, 11, '0') ORDER BY p.i""",
    """INSERT INTO messages (conversation_id, direction, channel, provider_sid, body, media, status, sent_at,
                             delivered_at, read_at, segments, attempts, created_at, updated_at)
       SELECT c.id, 'outbound', c.channel, 'SMrem' || inv.id, 'Lembrete', '[]'::jsonb,
              CASE WHEN inv.id % 20 = 0 THEN 'undelivered' WHEN inv.id % 20 < 6 OR c.channel = 'sms'
                   THEN 'delivered' ELSE 'read' END,
              p.sent_at, CASE WHEN inv.id % 20 <> 0 THEN p.sent_at + interval '1 minute' END,
              CASE WHEN inv.id % 20 >= 6 AND c.channel = 'whatsapp' THEN p.sent_at + interval '9 minutes' END,
              CASE WHEN c.channel = 'sms' THEN 1 + inv.id % 2 END, 0, p.sent_at, p.sent_at
       FROM invoices inv JOIN bench_plan p ON inv.external_ref = 'AN-' || p.i
       JOIN conversations c ON c.debtor_id = inv.debtor_id ORDER BY inv.id""",
    """INSERT INTO reminder_outbox (invoice_id, debtor_id, creditor_id, cadence, step_id, variant, send_on,
                                    channel, status, message_id, sent_at, created_at, updated_at)
       SELECT inv.id, inv.debtor_id, inv.creditor_id, 'padrao', p.step_id, p.variant, p.sent_day, m.channel,
              CASE WHEN m.status = 'undelivered' THEN 'failed' ELSE 'sent' END, m.id, p.sent_at, :now, :now
       FROM invoices inv JOIN bench_plan p ON inv.external_ref = 'AN-' || p.i
       JOIN messages m ON m.provider_sid = 'SMrem' || inv.id ORDER BY inv.id""",
    # A reply (i % 48 hours later: about half within the response window) and the bot's answer.
    """INSERT INTO messages (conversation_id, direction, channel, provider_sid, body, media, status, sent_at,
                             attempts, created_at, updated_at)
       SELECT m.conversation_id, d.direction, m.channel, 'SM' || d.direction || m.id, 'Oi', '[]'::jsonb,
              CASE WHEN d.direction = 'inbound' THEN 'received' ELSE 'delivered' END,
              CASE WHEN d.direction = 'outbound' THEN m.sent_at + (m.id % 48) * interval '1 hour' END, 0,
              m.sent_at + (m.id % 48) * interval '1 hour' + d.lag, m.sent_at
       FROM messages m
       CROSS JOIN (VALUES ('inbound', interval '0'), ('outbound', interval '1 minute')) d(direction, lag)
       WHERE m.provider_sid LIKE 'SMrem%'""",
    """INSERT INTO payments (provider, external_id, creditor_id, invoice_id, amount_cents, paid_at, details,
                             created_at, updated_at)
       SELECT 'pix', 'AN-' || id, creditor_id, id, amount_cents, paid_at, '{}'::jsonb, paid_at, paid_at
       FROM invoices WHERE paid_at IS NOT NULL""",
    """INSERT INTO payment_links (token, invoice_id, expires_at, created_at, updated_at)
       SELECT 'an' || o.invoice_id, o.invoice_id, o.sent_at + interval '30 days', o.sent_at, o.sent_at
       FROM reminder_outbox o WHERE o.invoice_id % 3 = 0""",
    """INSERT INTO payment_link_views (link_id, opened_at)
       SELECT l.id, l.created_at + (l.invoice_id % 10) * interval '1 day' FROM payment_links l
       WHERE l.invoice_id % 2 = 0""",
    """INSERT INTO payment_page_events (link_id, kind, occurred_at)
       SELECT l.id, CASE WHEN l.invoice_id % 8 = 0 THEN 'pix_copied' ELSE 'line_copied' END,
              l.created_at + interval '3 hours'
       FROM payment_links l WHERE l.invoice_id % 4 = 0""",
    """INSERT INTO payment_promises (debtor_id, creditor_id, invoice_ids, promised_on, amount_cents, status,
                                     created_by, created_at, updated_at)
       SELECT o.debtor_id, o.creditor_id, jsonb_build_array(o.invoice_id), o.send_on + 5, 10000,
              (ARRAY['kept', 'broken', 'open'])[1 + o.invoice_id % 3], 'bot',
              o.sent_at + interval '1 day', o.sent_at + interval '1 day'
       FROM reminder_outbox o WHERE o.invoice_id % 25 = 0""",
    """INSERT INTO agreements (creditor_id, debtor_id, status, debt_cents, discount_cents, interest_cents,
                               total_cents, created_at, updated_at)
       SELECT o.creditor_id, o.debtor_id, CASE WHEN o.invoice_id % 3 = 0 THEN 'broken' ELSE 'active' END,
              10000, 0, 0, 10000, o.sent_at + interval '2 days', o.sent_at + interval '2 days'
       FROM reminder_outbox o WHERE o.invoice_id % 100 = 1""",
    """INSERT INTO opt_out_events (debtor_id, channel, address, action, source, created_at, updated_at)
       SELECT o.debtor_id, o.channel, 'x', 'opt_out', 'keyword', o.sent_at + interval '2 hours',
              o.sent_at + interval '2 hours'
       FROM reminder_outbox o WHERE o.invoice_id % 200 = 0""",
    """INSERT INTO audit_log (actor, action, entity_type, entity_id, details, created_at, updated_at)
       SELECT 'bot', 'conversation.handoff_requested', 'conversation', c.id::text,
              jsonb_build_object('reason', CASE WHEN o.invoice_id % 2 = 0 THEN 'complaint' ELSE 'asked' END),
              o.sent_at + interval '3 hours', o.sent_at + interval '3 hours'
       FROM reminder_outbox o JOIN conversations c ON c.debtor_id = o.debtor_id
       WHERE o.invoice_id % 150 = 2""",
]


def seed(database: Database, invoices: int, today: date) -> float | None:
    """Fill the database unless it already holds the reminders; the seconds it took, or None."""
    with database.session() as session:
        if (session.scalar(select(func.count()).select_from(OutboxEntry)) or 0) >= invoices:
            return None
    started = time.perf_counter()
    params = {"now": utcnow(), "today": today, "invoices": invoices, "debtors": (invoices + 1) // 2}
    with database.engine.begin() as conn:
        for statement in _SQL:
            conn.execute(text(statement), params)
            # Fresh tables have no statistics yet: without them the planner joins a million rows by
            # nested loops.
            conn.execute(text("ANALYZE"))
        conn.execute(text("DROP TABLE bench_plan"))
    with database.session() as session:
        accounts.add(
            session,
            email=SUPERVISOR,
            name="Supervisora",
            role=UserRole.SUPERVISOR,
            password=PASSWORD,
            by="bench",
        )
        session.commit()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure_views(url: str, creditor_id: int, today: date) -> list[dict[str, Any]]:
    """Each dashboard view `RUNS` times through the web app, as the supervisor."""

    settings = load_settings(
        {
            "DATABASE_URL": url,
            "REGUA_ENV": "test",
            "SECRET_KEY": "analytics-bench-secret-0123456789",
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
        }
    )
    client = create_app(settings).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True))[1]
    assert (
        client.post("/", data={"csrf_token": token, "email": SUPERVISOR, "password": PASSWORD}).status_code
        == 302
    )
    last_month_end = today.replace(day=1) - timedelta(days=1)
    month = f"de={last_month_end.replace(day=1)}&ate={last_month_end}"
    quarter = f"de={today - timedelta(days=89)}&ate={today}"
    year = f"de={today - timedelta(days=365)}&ate={today}"
    views = {
        "last month, every creditor": f"/console/resultados/?{month}",
        "last month, one creditor": f"/console/resultados/?{month}&credor={creditor_id}",
        "90 days, every creditor": f"/console/resultados/?{quarter}",
        "a year, every creditor": f"/console/resultados/?{year}",
        "a year, one creditor": f"/console/resultados/?{year}&credor={creditor_id}",
        "CSV: a year by creditor": f"/console/resultados/credores.csv?{year}",
        "CSV: a year by day and step": f"/console/resultados/evolucao-passos.csv?{year}",
    }
    found = []
    for name, path in views.items():
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code)
        found.append({"view": name, "path": path, "median_s": statistics.median(times), "max_s": max(times)})
    return found


def write_markdown(result: dict[str, Any]) -> str:
    """The report of bench/results/analytics.md from the measured `result`."""
    counts = result["counts"]
    lines = [
        "# Results dashboard on PostgreSQL (`python -m bench.analytics`)",
        "",
        f"Measured {result['when']} on {result['machine']} (shared with other work).",
        "",
        "Data: " + ", ".join(f"{value:,} {name}" for name, value in counts.items()) + ".",
        "",
        "| what | median | slowest | goal |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {v['view']} (`{v['path']}`) | {v['median_s']:.3f} s | {v['max_s']:.3f} s | {GOAL_S:.0f} s |"
            for v in result["views"]
        ),
        "",
        f"Every view within {GOAL_S:.0f} s: **{'yes' if result['all_within_goal'] else 'no'}** "
        f"({RUNS} requests each, through the web app as the supervisor, server time without network; the "
        "first request of the process included). With a creditor chosen the page also shows the readout of "
        "its experiment, computed live by bot.experiments, which imports statsmodels on first use (about "
        "3 s on this machine): the dashboard starts that import in the background on its first visit "
        "(bot.reports.experiments.warm_up), so it is ready by the time a creditor is chosen, unless the "
        "very first request of a process already names one (then about 3 s more, once).",
        "",
        "The aggregates behind them (bot.analytics.daily):",
        "",
        f"- refresh of the whole year: {result['refresh_year_s']:.1f} s "
        f"({counts['analytics_daily']:,} rows of counts per day and slice);",
        f"- the hourly job (last 90 days): {result['refresh_job_s']:.1f} s, so the page's numbers are at "
        'most an hour and that long old (the page says "atualizados em ...");',
        "- the same month computed live (bot.analytics.collection_metrics, "
        f"{result['live_month_contacts']:,} reminders): {result['live_month_s']:.1f} s for the totals alone, "
        "before any breakdown.",
        "",
    ]
    if result["seed_s"] is not None:
        lines.append(f"Seeding took {result['seed_s']:.0f} s (set-based INSERT ... SELECT).")
    return "\n".join(lines) + "\n"


def _refresh_and_live(database: Database, today: date) -> tuple[float, float, float, int]:
    """Seconds to refresh the whole year and the hourly job's days, and to compute last month live (and
    its contacts)."""
    with database.session() as session:
        year_s = _timed(lambda: refresh(session, today - timedelta(days=366), today))
        session.commit()
    with database.session() as session:
        job_s = _timed(lambda: refresh(session, today - timedelta(days=REFRESH_DAYS - 1), today))
        session.commit()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    month = Period(last_month_end.replace(day=1), last_month_end)
    prices = Prices.from_settings(load_settings({}))
    with database.session() as session:
        live_month_s = _timed(lambda: collection_metrics(session, Scope(month, Filters()), prices))
        contacts = collection_metrics(session, Scope(month, Filters()), prices).contacts
    return year_s, job_s, live_month_s, contacts


def main(argv: list[str] | None = None) -> int:
    """Seed, refresh, measure, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("BENCH_ANALYTICS_URL", DEFAULT_URL))
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--seed-only", action="store_true", help="fill the database and stop")
    parser.add_argument(
        "--views-only", action="store_true", help="measure the views again, keep the last refresh's timings"
    )
    args = parser.parse_args(argv)
    ensure_database(args.url)
    migrations.upgrade(args.url)
    database = Database(args.url)
    today = local_date(utcnow(), DEFAULT_TZ)
    seeded = seed(database, args.invoices, today)
    if args.seed_only:
        return 0
    with database.session() as session:
        counts = {
            name: session.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in ("invoices", "messages", "reminder_outbox", "payments", "analytics_daily")
        }
        # A creditor whose reminders include the default cadence's experiment (its readout is on the page).
        creditor_id = session.scalar(
            select(func.min(OutboxEntry.creditor_id)).where(OutboxEntry.step_id == "acompanhamento_d+1")
        )
        assert creditor_id is not None and session.scalar(select(func.count()).select_from(User)) >= 1
    if args.views_only:
        last = json.loads((RESULTS / "analytics.json").read_text())
        year_s, job_s = last["refresh_year_s"], last["refresh_job_s"]
        live_month_s, contacts_month = last["live_month_s"], last["live_month_contacts"]
    else:
        year_s, job_s, live_month_s, contacts_month = _refresh_and_live(database, today)
    views = measure_views(args.url, creditor_id, today)
    with database.session() as session:
        daily_rows = session.scalar(text("SELECT count(*) FROM analytics_daily"))
    result = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, PostgreSQL",
        "counts": counts | {"analytics_daily": daily_rows},
        "seed_s": seeded,
        "refresh_year_s": year_s,
        "refresh_job_s": job_s,
        "live_month_s": live_month_s,
        "live_month_contacts": contacts_month,
        "views": views,
        "views_only": args.views_only,
        "goal_s": GOAL_S,
        "all_within_goal": all(v["max_s"] <= GOAL_S for v in views),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analytics.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / "analytics.md").write_text(write_markdown(result))
    print(json.dumps(result, indent=2, default=str))
    database.dispose()
    return 0 if result["all_within_goal"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
