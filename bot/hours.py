"""Weekly opening hours ("seg-sex 08:00-18:00; sab 08:00-12:00"): parsing, checking and the next opening.

Used for the hours when human agents answer (`AGENT_HOURS`). Days are written in Portuguese, as an
operator would type them: dom, seg, ter, qua, qui, sex, sab (accents optional, full names accepted).
National holidays (the `holidays` package) count as closed days; so do a state's holidays when the hours
are given a `state` (UF, e.g. "SP"). A state the `holidays` package does not know (or none) means national
holidays only: see `holiday_state`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from bot import texts
from bot.localtime import DEFAULT_TZ
from bot.text_folding import fold_accents

logger = logging.getLogger(__name__)

_DAYS = {"seg": 0, "ter": 1, "qua": 2, "qui": 3, "sex": 4, "sab": 5, "dom": 6}
_SPAN = re.compile(
    r"^(?P<days>[a-z-]+(?:,[a-z-]+)*)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class InvalidHours(ValueError):
    """Opening hours that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class OpeningHours:
    """Opening intervals per weekday (0 = Monday), in a time zone, closed on national holidays and, when
    `state` (a UF) is given, on that state's holidays too."""

    spans: dict[int, tuple[time, time]]
    timezone: str = DEFAULT_TZ
    state: str | None = None

    def is_open(self, moment: datetime) -> bool:
        """True when `moment` (timezone-aware) falls inside the opening hours."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        span = self._span(local.date())
        return span is not None and span[0] <= local.time() < span[1]

    def next_opening(self, moment: datetime) -> datetime | None:
        """The start of the next opening strictly after `moment` (or `moment` itself if open now);
        None when the hours are empty."""
        if not self.spans:
            return None
        if self.is_open(moment):
            return moment
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        for offset in range(0, 60):  # at most a few weeks ahead, even around long holidays
            day = local.date() + timedelta(days=offset)
            span = self._span(day)
            if span is None:
                continue
            start = datetime.combine(day, span[0], tzinfo=zone)
            if start > local:
                return start
        return None

    def _span(self, day: date) -> tuple[time, time] | None:
        if day in _holidays(day.year, holiday_state(self.state)):
            return None
        return self.spans.get(day.weekday())


# The states (UFs) whose holidays the `holidays` package knows. It also offers "São Paulo Capital" (the
# city's holidays), which is not a state and is left out.
_STATES = frozenset(code for code in holidays.country_holidays("BR").subdivisions if len(code) == 2)


def holiday_state(state: str | None) -> str | None:
    """The UF (upper case) whose holidays apply, or None for national holidays only: when `state` is empty
    or not a state the `holidays` package knows (a warning is logged once per unknown value)."""
    if not state or not state.strip():
        return None
    uf = state.strip().upper()
    if uf in _STATES:
        return uf
    _warn_unknown_state(uf)
    return None


@cache
def _warn_unknown_state(uf: str) -> None:
    logger.warning("unknown Brazilian state %r: only national holidays apply", uf)


@cache
def _holidays(year: int, state: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays("BR", subdiv=state, years=year)


def _plain(text: str) -> str:
    return fold_accents(text.lower())


def _day(token: str) -> int:
    key = token[:3]
    if key not in _DAYS:
        raise InvalidHours(f"unknown day {token!r} (use dom, seg, ter, qua, qui, sex, sab)")
    return _DAYS[key]


def _time(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise InvalidHours(f"bad time {text!r}")
    return time(hours, minutes)


def parse_hours(text: str, timezone: str = DEFAULT_TZ) -> OpeningHours:
    """Read "seg-sex 08:00-18:00; sab 08:00-12:00" (spans separated by ";", days by "," or ranges
    with "-"). An empty text means never open. Raises `InvalidHours`."""
    spans: dict[int, tuple[time, time]] = {}
    for raw in _plain(text).split(";"):
        part = " ".join(raw.split())
        if not part:
            continue
        match = _SPAN.match(part)
        if not match:
            raise InvalidHours(f"cannot read {raw.strip()!r}: write it like 'seg-sex 08:00-18:00'")
        start, end = _time(match["start"]), _time(match["end"])
        if start >= end:
            raise InvalidHours(f"{raw.strip()!r}: the opening must come before the closing time")
        for group in match["days"].split(","):
            first, _, last = group.partition("-")
            a, b = _day(first), _day(last or first)
            if b < a:
                raise InvalidHours(f"{group!r}: write day ranges from Monday towards Sunday")
            for weekday in range(a, b + 1):
                if weekday in spans:
                    raise InvalidHours(f"{group!r}: a day appears twice")
                spans[weekday] = (start, end)
    return OpeningHours(spans, timezone)


def describe_moment(moment: datetime, now: datetime, timezone: str = DEFAULT_TZ) -> str:
    """A short pt-BR description of when `moment` is, seen from `now`: "hoje às 14h", "amanhã às 8h",
    "segunda-feira às 8h" (within a week) or "em 02/01 às 8h"."""
    zone = ZoneInfo(timezone)
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    return texts.when(local, (local.date() - today).days)
