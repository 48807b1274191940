"""The scheduler's tick, the shared send rate, and `regua campaign preview|run|status`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import redis
from rq import Queue
from sqlalchemy import func, select

from bot.config import Settings
from bot.db import Database
from bot.models import Creditor, Debtor, Invoice, OutboxEntry
from bot.reminders import scheduler, throttle
from tests.unit.conftest import run as cli
from tests.unit.test_reminders import CADENCE, DUE, at


def _campaign(db: Database) -> None:
    with db.session() as s:
        creditor = Creditor(
            legal_name="Loja", cnpj="11222333000181", contact_channel="SAC", cadence_yaml=CADENCE
        )
        consent = datetime(2026, 1, 1, tzinfo=UTC)
        ana = Debtor(name="Ana Lima", cpf="52998224725", phone="+5511987654321", whatsapp_consent_at=consent)
        bruno = Debtor(name="Bruno Reis", cpf="11144477735", phone="+5521987654321")
        for ref, debtor in (("A-1", ana), ("B-1", bruno)):
            s.add(
                Invoice(creditor=creditor, debtor=debtor, external_ref=ref, amount_cents=15000, due_date=DUE)
            )


def test_a_tick_plans_once_and_keeps_dispatchers_queued(
    settings: Settings, db: Database, redis_conn: redis.Redis
) -> None:
    _campaign(db)
    now = at(DUE.replace(day=DUE.day - 3), 10)
    first = scheduler.tick(settings, db, redis_conn, now)
    assert (first.planned, first.due, first.dispatchers_started) == (2, 2, settings.reminder_dispatchers)
    second = scheduler.tick(settings, db, redis_conn, now)
    assert (second.planned, second.dispatchers_started) == (0, 0)  # idempotent; dispatchers already queued
    queue = Queue(scheduler.QUEUE, connection=redis_conn)
    assert [job.func_name for job in queue.jobs] == [
        "bot.reminders.jobs.dispatch_reminders"
    ] * settings.reminder_dispatchers
    assert redis_conn.get(scheduler.HEARTBEAT_KEY) is not None


def test_the_scheduler_loop_stops_on_request(
    settings: Settings, db: Database, redis_conn: redis.Redis
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(settings, db, redis_conn), kwargs={"stop": stop})
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_send_rate_is_shared_and_held(
    settings: Settings, redis_url: str, redis_conn: redis.Redis
) -> None:
    rates = [throttle.SendRate(redis_url, 40, "+5511999990000") for _ in range(2)]  # two dispatchers
    taken: list[float] = []

    def take(rate: throttle.SendRate) -> None:
        for _ in range(40):
            assert rate.acquire(timeout=5)
            taken.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(rate,)) for rate in rates]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    # 80 tokens at 40/s: the first 40 at once, the rest as the window slides: about one second.
    assert 0.9 <= elapsed <= 1.6, elapsed
    # No one-second span holds more than the rate (+5 % for the jitter of timing after each token).
    assert max(sum(1 for t in taken if s <= t < s + 1.0) for s in taken) <= 42


def test_campaign_commands(cli_env, db: Database, database_url: str) -> None:  # type: ignore[no-untyped-def]
    _campaign(db)
    preview = cli("campaign", "preview", "--date", "2026-12-07")
    assert preview.exit_code == 0, preview.output
    assert "antes" in preview.output and "whatsapp" in preview.output and "sms" in preview.output
    assert "Total: 2 lembrete(s)" in preview.output
    planned = cli("campaign", "run", "--date", "2026-12-07", "--plan-only")
    assert planned.exit_code == 0 and "Planejados: 2" in planned.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEntry)) == 2
    status = cli("campaign", "status")
    assert "antes" in status.output and "pending" in status.output
