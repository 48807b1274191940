"""Real dispatcher processes against a local Twilio stand-in: one killed with SIGKILL mid-batch and
restarted loses no step and sends none twice; a 429 storm is ridden out; a send Twilio created but
answered late or with a 5xx is settled by lookup, not sent again; a batch slower than the lease is not
sent twice; the scheduler plans and dispatches. The processes run with time frozen (time-machine)
inside the legal contact window."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from faker import Faker
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.db import Database
from bot.documents import normalize_cnpj, normalize_cpf
from bot.models import Creditor, Debtor, Invoice, OutboxEntry
from bot.reminders import planner
from tests import twilio_standin
from tests.integration.conftest import new_mobile

pytestmark = pytest.mark.integration

# Monday 2026-12-07, 10:00 in Brasília; the invoices are due on Thursday, so D-3 is today.
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
DUE = date(2026, 12, 10)
CHILD = """
import os, sys, datetime, time_machine
from bot.config import get_settings
from bot.channels import make_sender, twilio_api
from bot.db import Database
from bot.reminders import claiming, dispatch

# Test knobs (fault tests): a short lease, fewer send threads, a short Twilio timeout, bigger batches.
knobs = os.environ.get("TEST_DISPATCH_KNOBS")
limit = 5
if knobs:
    lease, threads, timeout, limit = (float(v) for v in knobs.split(","))
    claiming.LEASE = datetime.timedelta(seconds=lease)
    dispatch.SEND_THREADS = int(threads)
    twilio_api.REQUEST_TIMEOUT_SECONDS = timeout
with time_machine.travel(datetime.datetime.fromisoformat(sys.argv[1]), tick=True):
    settings = get_settings()
    database = Database(settings.effective_database_url)
    sender = make_sender(settings)
    while dispatch.dispatch_batch(database, settings, sender, limit=int(limit)).claimed:
        pass
print("done", flush=True)
"""


@pytest.fixture
def standin() -> Iterator[twilio_standin.StandIn]:
    with twilio_standin.running() as running:
        yield running


@pytest.fixture
def outbox(migrated_database: Database) -> tuple[Database, list[str]]:
    """A fresh creditor (legal window cadence of the unit tests) and 30 SMS-only debtors due on DUE,
    planned at NOW. Returns the database and the debtors' numbers."""
    from tests.unit.test_reminders import CADENCE

    fake = Faker("pt_BR")
    phones = []
    with migrated_database.session() as s:
        creditor = Creditor(
            legal_name="Loja Despacho Ltda", cnpj=normalize_cnpj(fake.cnpj()), contact_channel="SAC",
            cadence_yaml=CADENCE.replace("name: teste", f"name: teste{random.randint(0, 10**6)}"),
        )  # fmt: skip
        s.add(creditor)
        for n in range(30):
            phone = new_mobile()
            phones.append(phone)
            debtor = Debtor(name=fake.name(), cpf=normalize_cpf(fake.unique.cpf()), phone=phone, state="SP")
            s.add(
                Invoice(
                    creditor=creditor, debtor=debtor, external_ref=f"K-{n}", amount_cents=9900, due_date=DUE
                )
            )
    with migrated_database.session() as s:
        planner.plan(s, NOW.date())
    return migrated_database, phones


def _env(standin: twilio_standin.StandIn, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        REGUA_ENV="test",
        REGUA_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=database_url,
        SECRET_KEY="dispatcher-test-secret-0123",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="stand-in-token",
        TWILIO_SMS_FROM="+5511999990000",
        TWILIO_WHATSAPP_FROM="whatsapp:+5511999990000",
        TWILIO_API_BASE_URL=standin.url,
    )
    return env


def _dispatcher(env: dict[str, str], at: datetime, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, at.isoformat()],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _states(database: Database, phones: list[str]) -> dict[str, int]:
    with database.session() as s:
        rows = s.execute(
            select(OutboxEntry.status, func.count())
            .join(Debtor, Debtor.id == OutboxEntry.debtor_id)
            .where(Debtor.phone.in_(phones))
            .group_by(OutboxEntry.status)
        ).all()
    return {str(state.value): count for state, count in rows}


def test_a_dispatcher_killed_mid_batch_and_restarted_loses_and_repeats_nothing(
    standin: twilio_standin.StandIn, outbox: tuple[Database, list[str]], database_url: str, tmp_path: Path
) -> None:
    database, phones = outbox
    env = _env(standin, database_url, tmp_path)
    standin.clock_offset = NOW - datetime.now(UTC)  # Twilio's clock agrees with the dispatchers'
    standin.delay_seconds = 0.15  # Twilio "answering": the kill lands while sends are in flight
    first = _dispatcher(env, NOW, tmp_path / "first.log")
    deadline = time.monotonic() + 180  # a loaded machine may take long to start the child
    while len([m for m in standin.messages if m["to"] in phones]) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    # A request the dead dispatcher had in flight is still being answered for a moment. In production the
    # restart comes after the claim's lease (2 minutes), long after any request's 5 s timeout; time is
    # frozen in the children, so give the in-flight requests that moment in real time.
    time.sleep(standin.delay_seconds * 5)
    sent_before_kill = len([m for m in standin.messages if m["to"] in phones])
    log = (tmp_path / "first.log").read_text()[-2000:]
    assert sent_before_kill > 0, f"the first dispatcher sent nothing in 180 s:\n{log}"
    assert sent_before_kill < 30, "the kill came too late to matter"
    standin.delay_seconds = 0.0
    # Restarted after the claims' lease (2 minutes) has expired.
    second = _dispatcher(env, NOW + timedelta(minutes=3), tmp_path / "second.log")
    assert second.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()[-2000:]
    counts = {phone: len(standin.to(phone)) for phone in phones}
    assert counts == dict.fromkeys(phones, 1), f"lost or duplicated: {counts}"
    assert _states(database, phones) == {"sent": 30}


def test_two_dispatcher_processes_and_a_429_storm(
    standin: twilio_standin.StandIn, outbox: tuple[Database, list[str]], database_url: str, tmp_path: Path
) -> None:
    database, phones = outbox
    env = _env(standin, database_url, tmp_path)
    standin.fail_next = [429] * 12 + [503] * 3
    runs = [_dispatcher(env, NOW, tmp_path / f"d{n}.log") for n in range(2)]
    for run in runs:
        assert run.wait(timeout=120) == 0
    # The throttled rows wait for their retry time; later runs (after the back-off) finish them.
    for minutes in (1, 2, 4):
        later = [
            _dispatcher(env, NOW + timedelta(minutes=minutes), tmp_path / f"l{minutes}-{n}.log")
            for n in range(2)
        ]
        for run in later:
            assert run.wait(timeout=120) == 0
    counts = {phone: len(standin.to(phone)) for phone in phones}
    assert counts == dict.fromkeys(phones, 1), f"lost or duplicated: {counts}"
    assert _states(database, phones) == {"sent": 30}


def _sent_once(standin: twilio_standin.StandIn, database: Database, phones: list[str]) -> None:
    counts = {phone: len(standin.to(phone)) for phone in phones}
    assert counts == dict.fromkeys(phones, 1), f"lost or duplicated: {counts}"
    assert _states(database, phones) == {"sent": 30}


@pytest.mark.parametrize("fault", ["late", 500], ids=["answered-late", "5xx"])
def test_a_send_twilio_created_but_answered_late_or_with_a_5xx_goes_out_exactly_once(
    standin: twilio_standin.StandIn,
    outbox: tuple[Database, list[str]],
    database_url: str,
    tmp_path: Path,
    fault: str | int,
) -> None:
    database, phones = outbox
    env = _env(standin, database_url, tmp_path)
    env["TEST_DISPATCH_KNOBS"] = "5,8,1,5"  # lease 5 s, 8 threads, Twilio timeout 1 s, batches of 5
    standin.clock_offset = NOW - datetime.now(UTC)  # the lookup's "since" agrees with Twilio's clock
    standin.after_create, standin.late_seconds = [fault] * 4, 2.0
    runs = [_dispatcher(env, NOW, tmp_path / f"d{n}.log") for n in range(2)]
    for run in runs:
        assert run.wait(timeout=60) == 0
    assert not standin.after_create, "the faults were not hit"
    time.sleep(standin.late_seconds)  # the late answers are written (Twilio has the messages)
    # After the lease (and any retry time) two dispatchers reclaim the ambiguous rows and ask Twilio.
    later = [_dispatcher(env, NOW + timedelta(minutes=10), tmp_path / f"l{n}.log") for n in range(2)]
    for run in later:
        assert run.wait(timeout=60) == 0
    _sent_once(standin, database, phones)


def test_a_batch_slower_than_the_lease_is_not_sent_twice_by_the_other_dispatcher(
    standin: twilio_standin.StandIn, outbox: tuple[Database, list[str]], database_url: str, tmp_path: Path
) -> None:
    database, phones = outbox
    env = _env(standin, database_url, tmp_path)
    # A lease of 2 s, one send at a time, 12 rows a batch, and Twilio taking 0.4 s a message: each batch
    # takes ~5 s, more than twice its lease (a low SMS rate, a slow Twilio).
    env["TEST_DISPATCH_KNOBS"] = "2,1,5,12"
    standin.clock_offset = NOW - datetime.now(UTC)
    standin.delay_seconds = 0.4
    first = _dispatcher(env, NOW, tmp_path / "d0.log")
    time.sleep(3)  # the second starts once the first's lease would have run out mid-batch
    second = _dispatcher(env, NOW + timedelta(seconds=3), tmp_path / "d1.log")
    for n, run in enumerate((first, second)):
        assert run.wait(timeout=60) == 0, (tmp_path / f"d{n}.log").read_text()[-2000:]
    _sent_once(standin, database, phones)
