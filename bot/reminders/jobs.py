"""The reminders' RQ job: `dispatch_reminders`, queued by dotted path by the scheduler process
(bot.reminders.scheduler) on the `reminders` queue, run by the dispatcher processes."""

from __future__ import annotations

import time

from bot import runtime
from bot.reminders import dispatch, throttle

DISPATCH_BUDGET_SECONDS = 55.0


def dispatch_reminders(budget_seconds: float = DISPATCH_BUDGET_SECONDS) -> dict[str, int]:
    """Job: send due reminders batch after batch until none is due or the budget is spent (the scheduler
    queues another while work remains, so a long campaign is many short jobs)."""
    services = runtime.services()
    redis_url = runtime.redis_url()
    rates = {
        channel: throttle.send_rate(services.settings, redis_url, channel) for channel in ("whatsapp", "sms")
    }
    total = dispatch.DispatchStats()
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        stats = dispatch.dispatch_batch(services.database, services.settings, services.sender, rates)
        total.add(stats)
        if stats.claimed == 0:
            break
    return {k: v for k, v in vars(total).items() if isinstance(v, int)}
