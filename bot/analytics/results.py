"""The typed results of the metrics: rates that know when there is no data, costs in centavos."""

from __future__ import annotations

from dataclasses import dataclass

from bot.money import format_brl

NO_DATA = "sem dados"


def _decimal_comma(value: float, places: int) -> str:
    return f"{value:.{places}f}".replace(".", ",")


@dataclass(frozen=True)
class Rate:
    """`numerator` out of `denominator`, as a share (`per=1`) or per thousand (`per=1000`).

    With a zero denominator there is no rate: `value` is None and `label` says "sem dados" (never a
    division by zero, never a misleading 0 %).
    """

    numerator: int
    denominator: int
    per: int = 1

    @property
    def value(self) -> float | None:
        """The rate (0.125 for 12,5 %; 3.2 for 3,2 per thousand), or None without data."""
        if self.denominator == 0:
            return None
        return self.numerator * self.per / self.denominator

    @property
    def label(self) -> str:
        """The rate as a supervisor reads it: "12,5 %", "3,2 por mil" or "sem dados"."""
        value = self.value
        if value is None:
            return NO_DATA
        if self.per == 1000:
            return f"{_decimal_comma(value, 1)} por mil"
        return f"{_decimal_comma(value * 100, 1)} %"


@dataclass(frozen=True)
class CostPerReal:
    """What sending cost per real recovered: `cost_cents / recovered_cents` (None without recovery)."""

    cost_cents: int
    recovered_cents: int

    @property
    def value(self) -> float | None:
        """Reais spent per real recovered (0.0123: R$ 0,0123 per R$ 1), or None when nothing was recovered."""
        if self.recovered_cents == 0:
            return None
        return self.cost_cents / self.recovered_cents

    @property
    def label(self) -> str:
        """ "R$ 0,0123 por R$ 1 recuperado" or "sem dados"."""
        value = self.value
        return NO_DATA if value is None else f"R$ {_decimal_comma(value, 4)} por R$ 1 recuperado"


@dataclass(frozen=True)
class Costs:
    """What the contacts' messages cost: SMS segments and WhatsApp conversations, in centavos."""

    sms_segments: int
    whatsapp_conversations: int
    sms_cents: int
    whatsapp_cents: int

    @property
    def total_cents(self) -> int:
        """Both channels together."""
        return self.sms_cents + self.whatsapp_cents

    @property
    def total_label(self) -> str:
        """The total in reais ("R$ 1,23")."""
        return format_brl(self.total_cents)


@dataclass(frozen=True)
class CollectionMetrics:
    """Every metric of docs/metrics.md for one scope. Rates divide by `contacts` unless said otherwise."""

    contacts: int
    messages: int  # distinct messages that carried the contacts
    delivery: Rate
    read: Rate  # of the delivered contacts
    response: Rate
    page_opened: Rate
    pix_copied: Rate
    line_copied: Rate
    promise_to_pay: Rate
    promise_kept: Rate  # of the promises attributed and already resolved (kept or broken)
    agreement: Rate
    broken_agreement: Rate  # of the agreements attributed (cancelled ones left out)
    collection: Rate
    recovered_cents: int
    opt_out: Rate  # per 1,000 contacts
    complaint: Rate  # per 1,000 contacts
    handoff: Rate
    costs: Costs

    @property
    def cost_per_real(self) -> CostPerReal:
        """The cost of the contacts per real recovered."""
        return CostPerReal(self.costs.total_cents, self.recovered_cents)

    @property
    def recovered_label(self) -> str:
        """The amount recovered in reais ("R$ 1.234,56")."""
        return format_brl(self.recovered_cents)


@dataclass(frozen=True)
class Slice:
    """The metrics of one value of a dimension (a step, a channel...); `key` None is "none" (no variant,
    no segment)."""

    key: str | int | None
    metrics: CollectionMetrics


@dataclass(frozen=True)
class BucketRates:
    """Cure and roll of the invoices that were in one days-past-due bucket on the period's first day."""

    label: str  # "D+1–15", ..., "D+90+"
    first_day: int
    last_day: int | None  # None: no upper bound
    invoices: int
    cured: int  # paid by the end of the period
    rolled: int  # unpaid, not in an agreement, and in a later bucket on the period's last day
    in_agreement: int  # unpaid and put in an agreement during the period

    @property
    def cure(self) -> Rate:
        """Cured out of the bucket's invoices."""
        return Rate(self.cured, self.invoices)

    @property
    def roll(self) -> Rate:
        """Rolled out of the bucket's invoices."""
        return Rate(self.rolled, self.invoices)
