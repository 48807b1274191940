"""The typed results of an experiment: its arms with their intervals, the comparisons, the verdict."""

from __future__ import annotations

from dataclasses import dataclass

from bot.analytics import Period, Rate

NOT_ENOUGH_DATA = "ainda não há dados suficientes"
MESSAGE_ARM = "mensagem"  # the arm of a step without variants: its own message (compared with a holdout)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}".replace(".", ",") + " %"


def _p_value(value: float) -> str:
    return "< 0,001" if value < 0.001 else f"{value:.3f}".replace(".", ",")


@dataclass(frozen=True)
class Arm:
    """One arm of a step's experiment: its contacts (`n`), how many paid (`conversions`, the collection
    rate of bot.analytics) and the Wilson confidence interval of the rate (None without contacts)."""

    id: str  # a variant id, `MESSAGE_ARM`, or "holdout"
    n: int
    conversions: int
    ci_low: float | None
    ci_high: float | None
    is_control: bool = False
    is_holdout: bool = False

    @property
    def rate(self) -> Rate:
        """Conversions out of contacts ("sem dados" without contacts)."""
        return Rate(self.conversions, self.n)

    @property
    def interval_label(self) -> str:
        """The interval as a supervisor reads it: "9,8 % a 14,1 %" (or "sem dados")."""
        if self.ci_low is None or self.ci_high is None:
            return self.rate.label
        return f"{_percent(self.ci_low)} a {_percent(self.ci_high)}"


@dataclass(frozen=True)
class Comparison:
    """One arm against the control: the difference of rates, the two-proportion z-test, and its p-value
    corrected for the number of comparisons (Holm; the same p-value with a single comparison)."""

    arm: str
    control: str
    difference: float  # arm's rate minus control's rate (0.02: two percentage points more)
    z: float
    p_value: float
    p_adjusted: float
    significant: bool  # p_adjusted < alpha

    @property
    def label(self) -> str:
        """ "b: +2,0 p.p. em relação a a (p ajustado 0,012): diferença significativa"."""
        points = f"{self.difference * 100:+.1f}".replace(".", ",")
        verdict = "diferença significativa" if self.significant else "sem diferença detectável"
        p_value = _p_value(self.p_adjusted)
        return f"{self.arm}: {points} p.p. em relação a {self.control} (p ajustado {p_value}): {verdict}"


@dataclass(frozen=True)
class Readout:
    """An experiment's readout for one creditor and step over a period.

    `period` is the part of `requested_period` whose contacts have had their whole attribution window
    (None when none has yet). Without `enough_data`, `comparisons` is empty and `reasons` says which
    rule is not met yet (docs/experiments.md); the arms' counts and intervals are still given."""

    creditor_id: int
    step_id: str
    requested_period: Period
    period: Period | None
    attribution_days: int
    alpha: float
    planned_per_arm: int | None
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    enough_data: bool
    reasons: tuple[str, ...]
    correction: str | None  # "holm" with more than one comparison
    excluded: int  # contacts of the step carried by another step's message (in no arm)

    @property
    def control(self) -> Arm | None:
        """The arm the others are compared with."""
        return next((arm for arm in self.arms if arm.is_control), None)

    @property
    def verdict(self) -> str:
        """One sentence for the supervisor: not enough data yet, or what the comparisons found."""
        if not self.enough_data:
            return f"{NOT_ENOUGH_DATA}: {'; '.join(self.reasons)}"
        winners = [c for c in self.comparisons if c.significant]
        if not winners:
            return "Nenhuma diferença significativa entre os braços: a diferença observada pode ser acaso."
        return "; ".join(c.label for c in winners)
