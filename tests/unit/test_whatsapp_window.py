"""WhatsApp's 24-hour customer-service window, one rule for every sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channels.whatsapp_window import whatsapp_window_open

NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def test_the_window_is_open_for_24_hours_after_the_debtor_s_last_message() -> None:
    assert whatsapp_window_open(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not whatsapp_window_open(NOW - timedelta(hours=24), NOW)


def test_the_window_is_closed_when_the_debtor_never_wrote() -> None:
    assert not whatsapp_window_open(None, NOW)


def test_a_naive_time_from_sqlite_counts_as_utc() -> None:
    assert whatsapp_window_open(datetime(2026, 12, 6, 14, 0), NOW)
