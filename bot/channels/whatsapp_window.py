"""WhatsApp's customer-service window: free-form text may go to a debtor only within 24 hours of the
debtor's last message; outside it only an approved template (Twilio Content API) is delivered, and a
free-form send fails with error 63016. One rule, used by reminders, payment thank-yous and the console."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import as_utc

WHATSAPP_WINDOW = timedelta(hours=24)


def whatsapp_window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True while free-form WhatsApp text may go: the debtor wrote less than 24 hours before `now`."""
    last = as_utc(last_inbound_at)
    return last is not None and now - last < WHATSAPP_WINDOW
