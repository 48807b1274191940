"""Whether an agent is on duty now (`AGENT_HOURS`, read by `bot.hours`), and if not, when the next
opening is, in Brazil local time, for the notice at the top of the queue. The debtor is told the same
moment by the bot (`bot.conversation.handoff.when_agents_answer`), so both sides agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.hours import describe_moment, parse_hours


@dataclass(frozen=True)
class OffDuty:
    """No agent on duty: when the next opening is (local time) and how the debtor hears it
    ("amanhã às 8h"); both None when no opening hours are configured at all."""

    opens_at: datetime | None
    words: str | None


def off_duty(settings: Settings, now: datetime) -> OffDuty | None:
    """None while agents are on duty; otherwise the next opening."""
    hours = parse_hours(settings.agent_hours)
    if hours.is_open(now):
        return None
    opening = hours.next_opening(now)
    if opening is None:
        return OffDuty(None, None)
    local = opening.astimezone(ZoneInfo(hours.timezone))
    return OffDuty(local, describe_moment(opening, now, hours.timezone))
