"""The dates debtors write when they promise to pay ("dia 15", "15/12", "sexta", "amanhã"), read in pt-BR.

A small parser for the forms seen on WhatsApp rather than `dateparser` (a large dependency whose
relative-date rules are not the ones a debtor means: "sexta" is the coming Friday, "dia 5" said on the
20th is next month's 5th). Every date is resolved from the debtor's `today` and is never in the past.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, timedelta

_WEEKDAYS = {
    "segunda": 0,
    "terca": 1,
    "quarta": 2,
    "quinta": 3,
    "sexta": 4,
    "sabado": 5,
    "domingo": 6,
}
_DAY_MONTH = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{2}|\d{4}))?\b")
_DAY = re.compile(r"\bdia\s+(\d{1,2})\b")
_WEEKDAY = re.compile(r"\b(segunda|terca|quarta|quinta|sexta|sabado|domingo)\b")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _next_day_of_month(day: int, today: date) -> date | None:
    """The next date whose day is `day` (this month if it has not passed, else the next month with it)."""
    year, month = today.year, today.month
    for _ in range(3):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def parse(text: str, today: date) -> date | None:
    """The date `text` names, from the debtor's `today`; None when it names none (or an impossible one).

    "hoje", "amanhã", "depois de amanhã", "sexta(-feira)" (the coming one; today's weekday means next
    week's), "dia 15" (the next 15th), "15/12" and "15/12/2026".
    """
    folded = _fold(text or "")
    if "depois de amanha" in folded:
        return today + timedelta(days=2)
    if re.search(r"\bamanha\b", folded):
        return today + timedelta(days=1)
    if re.search(r"\bhoje\b", folded):
        return today
    if match := _DAY_MONTH.search(folded):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else today.year
        year += 2000 if year < 100 else 0
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if match.group(3) is None and found < today:
            found = date(year + 1, month, day) if (month, day) != (2, 29) else found
        return found if found >= today else None
    if match := _DAY.search(folded):
        return _next_day_of_month(int(match.group(1)), today) if 1 <= int(match.group(1)) <= 31 else None
    if match := _WEEKDAY.search(folded):
        ahead = (_WEEKDAYS[match.group(1)] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return None
