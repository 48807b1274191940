"""The aggregates' RQ job, queued hourly by dotted path from the worker's minute sweep
(bot.conversation.sweep), so a long refresh never holds up the sweep itself."""

from __future__ import annotations

from bot import runtime
from bot.analytics import daily

REFRESH_JOB = "bot.analytics.jobs.refresh"


def refresh() -> int:
    """Job: recompute the last `daily.REFRESH_DAYS` days of aggregates; returns the rows written."""
    return daily.refresh_recent(runtime.services().database)
