"""The options a creditor's policy allows, and what each costs.

`policy_for` reads the creditor's `AgreementPolicy` (or the conservative default); `compute_options` gives
two or three concrete options for a debt: à vista with the cash discount, the instalment count the debtor
asked for when the policy allows it (else the nearest allowed, `nearest_count`), a middle plan and the longest
plan allowed. Nothing outside the policy is ever offered.

Instalment plans with interest use the Price table (equal payments). Money is int centavos throughout;
rounding is half up to the centavo, and the last instalment absorbs the rounding so the schedule adds up
to the total exactly.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import texts
from bot.models import AgreementPolicy

MAX_OPTIONS = 3


_CANDIDATE_COUNTS = (2, 3, 4, 5, 6, 8, 10, 12, 18, 24, 36, 48, 60)


_BASIS_POINTS = 10_000


DEFAULT_POLICY = {
    "max_instalments": 6,
    "min_instalment_cents": 5000,
    "monthly_interest_bps": 0,
    "cash_discount_bps": 0,
    "min_down_payment_bps": 0,
    "first_due_days": 3,
    "break_after_days": 15,
    "max_promise_days": 10,
}


@dataclass(frozen=True)
class Option:
    """One concrete way to pay the debt."""

    number: int
    instalments: int
    first_cents: int  # the first instalment (the down payment when the policy asks for one)
    instalment_cents: int  # each of the others
    total_cents: int
    discount_cents: int
    interest_cents: int
    first_due: str  # ISO date

    @property
    def first_due_date(self) -> date:
        """The first due date as a date."""
        return date.fromisoformat(self.first_due)

    def describe(self) -> str:
        """pt-BR: "À vista: R$ 900,00 (desconto de R$ 100,00)" / "6x de R$ 150,00 (total R$ 900,00)"."""
        return texts.option_description(
            self.instalments, self.total_cents, self.discount_cents, self.first_cents, self.instalment_cents
        )


def policy_for(session: Session, creditor_id: int) -> AgreementPolicy:
    """The creditor's policy, or the conservative default (no discount, no interest, up to 6x)."""
    found = session.scalar(select(AgreementPolicy).where(AgreementPolicy.creditor_id == creditor_id))
    return found if found is not None else AgreementPolicy(creditor_id=creditor_id, **DEFAULT_POLICY)


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the end of shorter months (31/01 + 1 → 28/02)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _price_payment(principal: int, monthly_bps: int, count: int, *, first_now: bool) -> int:
    """Equal payment for `principal` over `count` months at `monthly_bps` (Price table), in centavos.

    `first_now`: the first payment is due at once (annuity due); otherwise one month later.
    """
    if monthly_bps == 0:
        return _cents(Decimal(principal) / count)
    rate = Decimal(monthly_bps) / _BASIS_POINTS
    factor = (1 - (1 + rate) ** -count) / rate
    if first_now:
        factor *= 1 + rate
    return _cents(Decimal(principal) / factor)


def plan(debt_cents: int, count: int, policy: AgreementPolicy, today: date, number: int = 0) -> Option | None:
    """The option paying `debt_cents` in `count` instalments under `policy`; None if the policy does not
    allow it (too many instalments, an instalment under the minimum)."""
    first_due = today + timedelta(days=policy.first_due_days)
    if count == 1:
        discount = _cents(Decimal(debt_cents) * policy.cash_discount_bps / _BASIS_POINTS)
        total = debt_cents - discount
        return Option(number, 1, total, total, total, discount, 0, first_due.isoformat())
    if count > policy.max_instalments:
        return None
    down = _cents(Decimal(debt_cents) * policy.min_down_payment_bps / _BASIS_POINTS)
    if down:
        payment = _price_payment(debt_cents - down, policy.monthly_interest_bps, count - 1, first_now=False)
        first, others = down, payment
        total = down + payment * (count - 1)
    else:
        payment = _price_payment(debt_cents, policy.monthly_interest_bps, count, first_now=True)
        first = others = payment
        total = payment * count
    if policy.monthly_interest_bps == 0:
        total = debt_cents  # without interest the schedule is exactly the debt (the last one rounds)
    if min(first, others) < policy.min_instalment_cents:
        return None
    return Option(number, count, first, others, total, 0, total - debt_cents, first_due.isoformat())


def compute_options(
    debt_cents: int, policy: AgreementPolicy, today: date, requested: int | None = None
) -> list[Option]:
    """Two or three options within the policy: à vista, the instalment count the debtor asked for (when
    allowed), a middle plan and the longest plan allowed."""
    counts: list[int] = []
    feasible = [n for n in {*_CANDIDATE_COUNTS, policy.max_instalments} if plan(debt_cents, n, policy, today)]
    feasible.sort()
    if requested and requested > 1:
        # The count asked for, or the nearest the policy allows ("em 10x" under a 6x maximum -> 6x).
        nearest = nearest_count(debt_cents, requested, policy, today)
        if nearest is not None:
            counts.append(nearest)
    if feasible:
        longest = feasible[-1]
        middle = min(feasible, key=lambda n: (abs(n - longest / 2), n))
        for n in (longest, middle):  # the longest plan is always among the choices
            if n not in counts and len(counts) < MAX_OPTIONS - 1:
                counts.append(n)
    options = [plan(debt_cents, 1, policy, today, 1)]
    for number, count in enumerate(sorted(counts), start=2):
        options.append(plan(debt_cents, count, policy, today, number))
    return [o for o in options if o is not None]


def nearest_count(debt_cents: int, requested: int, policy: AgreementPolicy, today: date) -> int | None:
    """The instalment count the policy allows that is closest to `requested` (the fewer instalments on a
    tie, since each is then larger but still within the minimum); None when no plan is allowed."""
    allowed = [n for n in range(2, policy.max_instalments + 1) if plan(debt_cents, n, policy, today)]
    if not allowed:
        return None
    return min(allowed, key=lambda n: (abs(n - requested), n))
