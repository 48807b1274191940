"""What a metrics question is about: a period of local days, filters, attribution windows, and prices."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from bot.config import Settings
from bot.localtime import DEFAULT_ZONE


@dataclass(frozen=True)
class Period:
    """Calendar days in Brasília time, both included: `Period(date(2026, 3, 1), date(2026, 3, 31))`."""

    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"a period ends on or after it starts: {self.first_day} > {self.last_day}")

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight of `first_day`), in UTC."""
        return datetime.combine(self.first_day, time(), DEFAULT_ZONE).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (local midnight after `last_day`), in UTC."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), DEFAULT_ZONE).astimezone(UTC)


# A filter value meaning "none set" (no variant, no segment), since None means "any".
UNSET = "(nenhum)"


@dataclass(frozen=True)
class Filters:
    """Which reminders count; None means any, `UNSET` means those without a value (no variant, no
    segment). `segment` is the debtor's import segment."""

    creditor_id: int | None = None
    step_id: str | None = None
    channel: str | None = None
    variant: str | None = None
    segment: str | None = None

    def narrowed(self, name: str, value: object) -> Filters:
        """These filters with one more (`name` is a field of this class)."""
        return replace(self, **{name: value})


@dataclass(frozen=True)
class Windows:
    """How long after a reminder an event still counts for it (docs/metrics.md, "Attribution").

    Reactions (a reply, an opt-out, a complaint, a handoff) count within `response_hours`; outcomes (the
    payment page, a copy, a promise, an agreement, a payment) within `attribution_days`.
    """

    response_hours: int = 24
    attribution_days: int = 7

    def __post_init__(self) -> None:
        if self.response_hours < 1 or self.attribution_days < 1:
            raise ValueError("attribution windows are at least 1 hour and 1 day")

    @property
    def response_seconds(self) -> int:
        """The reaction window in seconds."""
        return self.response_hours * 3600

    @property
    def attribution_seconds(self) -> int:
        """The outcome window in seconds."""
        return self.attribution_days * 86400


@dataclass(frozen=True)
class Scope:
    """A period, its filters and its windows: everything a metric needs besides the database."""

    period: Period
    filters: Filters = field(default_factory=Filters)
    windows: Windows = field(default_factory=Windows)

    def narrowed(self, name: str, value: object) -> Scope:
        """This scope with one more filter."""
        return replace(self, filters=self.filters.narrowed(name, value))


@dataclass(frozen=True)
class Prices:
    """What sending costs, in reais (Decimals: a segment's price is not a whole number of centavos)."""

    sms_per_segment: Decimal
    whatsapp_per_conversation: Decimal

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        """The prices of `SMS_PRICE_PER_SEGMENT` and `WHATSAPP_PRICE_PER_CONVERSATION` (validated at load)."""
        return cls(Decimal(settings.sms_price_per_segment), Decimal(settings.whatsapp_price_per_conversation))
