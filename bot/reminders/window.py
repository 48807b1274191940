"""The legal contact window: when a proactive collection message may be sent to a debtor.

Legal basis. The Código de Defesa do Consumidor (Lei 8.078/1990), art. 42, forbids exposing a debtor to
ridicule or to any embarrassment or threat when collecting a debt, and art. 71 makes collection that
interferes with the consumer's work, rest or leisure a crime. It sets no hours. Several states do, for
collection calls and messages; São Paulo's Lei 15.426/2014, for instance, allows them Monday to Friday from
08:00 to 20:00 and on Saturdays from 08:00 to 14:00, never on Sundays or holidays. Régua applies that window
(`LEGAL_HOURS`) to every debtor, whatever their state, so that one cadence is legal everywhere we have
checked. Some states are reported to be stricter still (e.g. shorter weekday hours, or no Saturdays); a
creditor collecting there narrows the window with `ContactWindow.for_creditor` (see below) and Régua does not
yet keep per-state windows.

Local time. The window is read in the DEBTOR's local time, from `Debtor.timezone` (derived from the area
code, see `bot.phones`: America/Noronha UTC-2, America/Sao_Paulo UTC-3, America/Manaus UTC-4,
America/Rio_Branco UTC-5). 19:59 on a Friday in Rio Branco is open although it is 21:59 in Brasília.

Holidays. Closed on national holidays and on the debtor's state holidays (`Debtor.state`, a UF), both from
the `holidays` package (`holidays.country_holidays("BR", subdiv=UF)`, its default "public" category: optional
days such as Carnival or Corpus Christi are not holidays there unless a state made them one). A state the
package does not know, or none, falls back to national holidays only (logged once, see
`bot.hours.holiday_state`). Municipal holidays are not covered.

Narrowing. A creditor may narrow the window ("seg-sex 09:00-18:00", parsed by `bot.hours.parse_hours`, also
read in the debtor's local time) but never widen it: `ContactWindow.for_creditor` keeps, for each weekday,
the intersection of the creditor's hours with the legal ones, and sets `clipped` when the creditor's text
went beyond the legal window, so the cadence loader can warn about it.

A reminder step that falls outside the window is not dropped: it is sent at `next_opening`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.hours import InvalidHours, OpeningHours, parse_hours
from bot.phones import DEFAULT_TIMEZONE

__all__ = [
    "LEGAL_HOURS",
    "LEGAL_WINDOW",
    "ContactWindow",
    "debtor_next_opening",
    "debtor_window_open",
]

LEGAL_HOURS = "seg-sex 08:00-20:00; sab 08:00-14:00"

Spans = dict[int, tuple[time, time]]
_LEGAL_SPANS: Spans = parse_hours(LEGAL_HOURS).spans


@dataclass(frozen=True)
class ContactWindow:
    """The hours, per weekday (0 = Monday), at which proactive messages may be sent, in the debtor's local
    time, closed on national and state holidays. Build it with `legal()` or `for_creditor()`."""

    spans: Spans = field(default_factory=lambda: dict(_LEGAL_SPANS))
    clipped: bool = False  # built from creditor hours that went beyond the legal window

    @classmethod
    def legal(cls) -> ContactWindow:
        """The legal window, `LEGAL_HOURS`."""
        return cls(dict(_LEGAL_SPANS))

    @classmethod
    def for_creditor(cls, narrowing: str | None) -> ContactWindow:
        """The legal window narrowed by a creditor's hours ("seg-sex 09:00-18:00"); None or a blank text
        means no narrowing. Hours beyond the legal window are cut off and `clipped` is set. Raises
        `InvalidHours` when the text cannot be read or leaves no time at all inside the legal window."""
        if narrowing is None or not narrowing.strip():
            return cls.legal()
        wanted = parse_hours(narrowing).spans
        spans: Spans = {}
        clipped = False
        for weekday, (start, end) in wanted.items():
            legal = _LEGAL_SPANS.get(weekday)
            if legal is None:
                clipped = True
                continue
            if start < legal[0] or end > legal[1]:
                clipped = True
            start, end = max(start, legal[0]), min(end, legal[1])
            if start < end:
                spans[weekday] = (start, end)
        if not spans:
            raise InvalidHours(
                f"{narrowing.strip()!r} leaves no time inside the legal window ({LEGAL_HOURS})"
            )
        return cls(spans, clipped)

    def is_open(self, moment: datetime, *, timezone: str, state: str | None) -> bool:
        """True when a message may be sent at `moment` (timezone-aware) to a debtor living in `timezone`
        (IANA name) and `state` (UF, or None for national holidays only)."""
        return self._hours(timezone, state).is_open(_aware(moment))

    def next_opening(self, moment: datetime, *, timezone: str, state: str | None) -> datetime:
        """The earliest moment at or after `moment` (timezone-aware) at which a message may be sent, in the
        debtor's time zone. Searches weeks ahead; raises `RuntimeError` if nothing is open (which cannot
        happen for a window with at least one weekday)."""
        found = self._hours(timezone, state).next_opening(_aware(moment))
        if found is None:
            raise RuntimeError(f"no contact window found after {moment.isoformat()} in {timezone}")
        return found.astimezone(ZoneInfo(timezone))

    def _hours(self, timezone: str, state: str | None) -> OpeningHours:
        ZoneInfo(timezone)  # an unknown zone raises ZoneInfoNotFoundError rather than guessing
        return OpeningHours(self.spans, timezone, state)


LEGAL_WINDOW = ContactWindow.legal()


class Located(Protocol):
    """Anything with a debtor's location, such as `bot.models.Debtor`."""

    timezone: str | None
    state: str | None


def debtor_window_open(debtor: Located, moment: datetime, window: ContactWindow = LEGAL_WINDOW) -> bool:
    """`window.is_open` for a debtor (a debtor not yet saved may have no time zone: São Paulo's, the
    column's default)."""
    return window.is_open(moment, timezone=debtor.timezone or DEFAULT_TIMEZONE, state=debtor.state)


def debtor_next_opening(debtor: Located, moment: datetime, window: ContactWindow = LEGAL_WINDOW) -> datetime:
    """`window.next_opening` for a debtor."""
    return window.next_opening(moment, timezone=debtor.timezone or DEFAULT_TIMEZONE, state=debtor.state)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment.isoformat()}")
    return moment
