"""The updated amount of an overdue invoice: original + multa (fine) + juros de mora (late interest).

Rules (per creditor, in basis points; 1 bp = 0.01 %):
* Fine: `fine_bps` of the original amount (default 200 = 2 %, the ceiling for consumer credit, CDC
  art. 52 §1), charged once from the first day late.
* Interest: `monthly_interest_bps` per month (default 100 = 1 %), simple interest on the original amount,
  pro rata by day with a 30-day month: original × rate × days_late / 30.
* Rounding: each component is computed exactly with integers and rounded once to the centavo, half up
  (half a centavo or more goes up). The total is the sum of the rounded components, so the breakdown a
  debtor sees always adds up.
* Nothing is added on the due date itself or before it. Days late are counted in calendar days from the
  due date to `today` (the debtor's local date).

Several state laws require the itemisation, so the bot and the payment page always show the breakdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

BASIS_POINTS = 10_000
DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class Breakdown:
    """An amount due and how it was reached, in int centavos."""

    original_cents: int
    fine_cents: int
    interest_cents: int
    days_late: int

    @property
    def total_cents(self) -> int:
        """Original + fine + interest."""
        return self.original_cents + self.fine_cents + self.interest_cents

    @property
    def has_charges(self) -> bool:
        """True when a fine or interest was added."""
        return bool(self.fine_cents or self.interest_cents)


def _round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def updated_amount(
    original_cents: int, due_date: date, today: date, *, fine_bps: int = 200, monthly_interest_bps: int = 100
) -> Breakdown:
    """The breakdown of `original_cents` due on `due_date`, as of `today`."""
    if isinstance(original_cents, bool) or not isinstance(original_cents, int):
        raise TypeError("amounts are int centavos")
    if original_cents < 0 or fine_bps < 0 or monthly_interest_bps < 0:
        raise ValueError("amounts and rates cannot be negative")
    days_late = max((today - due_date).days, 0)
    if days_late == 0:
        return Breakdown(original_cents, 0, 0, 0)
    fine = _round_half_up(original_cents * fine_bps, BASIS_POINTS)
    interest = _round_half_up(
        original_cents * monthly_interest_bps * days_late, BASIS_POINTS * DAYS_PER_MONTH
    )
    return Breakdown(original_cents, fine, interest, days_late)
