"""The default time zone and local dates: Brasília time unless a debtor's own zone says otherwise."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# Brasília time: the zone of most debtors and of every creditor's calendar (due dates, "today").
DEFAULT_TZ = "America/Sao_Paulo"
DEFAULT_ZONE = ZoneInfo(DEFAULT_TZ)


def local_date(moment: datetime, timezone: str | None = None) -> date:
    """`moment`'s calendar date in `timezone` (an IANA name; Brasília when None or empty)."""
    return moment.astimezone(ZoneInfo(timezone or DEFAULT_TZ)).date()


def local_datetime(moment: datetime, timezone: str | None = None) -> datetime:
    """`moment` as wall-clock time in `timezone` (an IANA name; Brasília when None or empty)."""
    return moment.astimezone(ZoneInfo(timezone or DEFAULT_TZ))
