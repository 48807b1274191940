"""The console benchmark's own parts: the book it seeds, how it reads gunicorn's access log, and whether its
verdict follows from what it measured.

The benchmark measures the product; these check the pieces that run without the web app. That it imports
nothing from the test suite is checked for every bench in test_bench_inbound.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.console import seed
from bench.console.report import goals, markdown, summary, write
from bench.console.run import server_times
from bot.db import Database
from bot.documents import is_valid_cnpj, is_valid_cpf
from bot.models import Conversation, ConversationState, Creditor, Debtor, Invoice, Message

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
TINY = seed.Sizes(conversations=400, messages=2000, agents=4)


@pytest.fixture
def postgres(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("the bench seeds PostgreSQL only (generate_series, arrays)")
    return db


def test_a_tiny_book_is_seeded_with_the_shares_the_bench_promises(postgres: Database):
    url = postgres.engine.url.render_as_string(hide_password=False)

    assert seed.seed(url, TINY, NOW) is True

    with postgres.session() as session:
        states = dict(
            session.execute(select(Conversation.state, func.count()).group_by(Conversation.state)).all()
        )
        assert states == {
            ConversationState.WAITING_AGENT: 8,
            ConversationState.WITH_AGENT: 4,
            ConversationState.BOT: 388,
        }
        assert session.scalar(select(func.count()).select_from(Message)) == TINY.messages
        assert session.scalar(select(func.count()).select_from(Invoice)) == 600
        cpfs = session.scalars(select(Debtor.cpf)).all()
        assert len(cpfs) == 400 and all(is_valid_cpf(c) for c in cpfs)
        assert all(is_valid_cnpj(c) for c in session.scalars(select(Creditor.cnpj)))
        # Every conversation is addressed from its debtor's own number.
        assert (
            session.scalar(
                select(func.count())
                .select_from(Conversation)
                .join(Debtor, Debtor.id == Conversation.debtor_id)
                .where(Conversation.address == Debtor.phone)
            )
            == 400
        )
    agents, supervisor = seed.people(postgres, TINY.agents)
    assert [len(a.owned) for a in agents] == [1, 1, 1, 1]
    assert supervisor.email == seed.SUPERVISOR_EMAIL


def test_seeding_again_is_skipped_when_the_data_is_there(postgres: Database):
    url = postgres.engine.url.render_as_string(hide_password=False)
    seed.seed(url, TINY, NOW)

    assert seed.seed(url, TINY, NOW) is False
    with postgres.session() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == TINY.conversations


def test_check_digits_make_valid_cpfs_and_cnpjs():
    assert seed.with_check_digits("112223330001") == "11222333000181"
    assert is_valid_cpf(seed.with_check_digits("529982247"))


def test_server_times_are_read_from_the_tagged_access_log_lines(tmp_path: Path):
    log = tmp_path / "web.log"
    log.write_text(
        "[2026-12-06 21:31:34 +0000] [20237] [INFO] Booting worker with pid: 20237\n"
        "ACCESS 200 12500 console-bench-queue_agent-7\n"
        "ACCESS 200 7500 console-bench-queue_agent-9\n"
        "ACCESS 500 90000 console-bench-conversation-8\n"
        "ACCESS 200 1000 python-requests/2.34.2\n"
    )

    times, errors = server_times(log)

    assert times == {"queue_agent": [0.0125, 0.0075], "conversation": [0.09]}
    assert errors == {"conversation": 1}


def result(page_p95_s: float, delivery_p95_s: float, lost: int = 0) -> dict:
    """A measured session: every page at `page_p95_s`, every message on its page after `delivery_p95_s`."""
    pages = {name: summary([page_p95_s] * 50) for name in ("queue_agent", "queue_supervisor", "conversation")}
    return {
        "started_at": "2026-12-07 15:00",
        "commit": "abc1234",
        "machine": {
            "cpus": 2,
            "cpu_model": "test",
            "memory_gib": 24,
            "python": "Python 3.11",
            "postgres": "PostgreSQL 15",
            "busy_share": 0.5,
            "foreign_share": 0.0,
        },
        "data": {
            "conversations": 100_000,
            "waiting_agent": 2000,
            "with_agent": 1000,
            "bot": 97_000,
            "messages": 1_000_000,
            "debtors": 100_000,
            "invoices": 150_000,
            "seeded": False,
            "seed_seconds": 0.1,
            "long_thread": 60,
        },
        "agents": 20,
        "web_concurrency": 2,
        "web_threads": 4,
        "page_requests": 50,
        "rate": 2.0,
        "server": pages,
        "client": pages,
        "errors": {},
        "delivery": {
            "sent": 40,
            "page": summary([delivery_p95_s] * 40),
            "alert": summary([delivery_p95_s + 1] * 40),
            "lost": lost,
            "webhook_errors": 0,
            "timeout_s": 10,
        },
        "polls": 100,
        "poll_errors": 0,
        "notes": ["a note"],
    }


def test_every_goal_is_met_when_pages_and_messages_are_fast_enough(tmp_path: Path):
    measured = result(page_p95_s=0.120, delivery_p95_s=1.4)
    measured["goals"] = goals(measured)

    assert [g["met"] for g in measured["goals"]] == [True, True, True, True]
    data, text = write(measured, tmp_path)
    assert data.exists() and "every goal met" in text.read_text()


def test_a_slow_page_a_late_message_or_a_lost_one_each_miss_a_goal():
    slow_pages = goals(result(page_p95_s=0.151, delivery_p95_s=1.4))
    late = goals(result(page_p95_s=0.1, delivery_p95_s=2.1))
    lost = goals(result(page_p95_s=0.1, delivery_p95_s=1.0, lost=1))

    assert [g["met"] for g in slow_pages] == [False, False, False, True]
    assert [g["met"] for g in late] == [True, True, True, False]
    assert [g["met"] for g in lost] == [True, True, True, False]


def test_the_report_says_when_a_goal_was_missed():
    measured = result(page_p95_s=0.2, delivery_p95_s=1.0)
    measured["goals"] = goals(measured)

    text = markdown(measured)

    assert "a goal was missed" in text and "| **no** |" in text
