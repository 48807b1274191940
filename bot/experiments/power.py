"""Before an experiment starts: how many contacts each arm needs (`plan_sample`).

A two-sided two-proportion test (`statsmodels` `NormalIndPower` on Cohen's h from
`proportion_effectsize`) with equal arms. With more than two arms every arm is compared with the control
and the readout corrects for it (Holm); the plan sizes the arms for the strictest step of that correction,
alpha divided by the number of comparisons (Bonferroni), so the planned power holds after correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class PlanError(ValueError):
    """The plan's inputs make no sense (a rate outside 0..1, no effect, fewer than two arms...)."""


@dataclass(frozen=True)
class SamplePlan:
    """How many contacts each arm needs to detect `minimum_effect` (an absolute difference of rates)."""

    baseline: float
    minimum_effect: float
    alpha: float
    power: float
    arms: int
    per_arm: int
    comparison_alpha: float  # alpha per comparison (alpha / comparisons)

    @property
    def total(self) -> int:
        """Contacts of all arms together."""
        return self.per_arm * self.arms


def plan_sample(
    baseline: float, minimum_effect: float, alpha: float = 0.05, power: float = 0.8, arms: int = 2
) -> SamplePlan:
    """Contacts per arm to tell `baseline` from `baseline + minimum_effect` (rates as shares, 0.10 for
    10 %) with a two-sided test at `alpha` and the given `power`, with `arms` arms (control included)."""
    if not 0 < baseline < 1:
        raise PlanError("a taxa de base deve estar entre 0 % e 100 %")
    if minimum_effect == 0 or not 0 < baseline + minimum_effect < 1:
        raise PlanError("o efeito mínimo deve ser diferente de zero e manter a taxa entre 0 % e 100 %")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise PlanError("alfa e poder devem estar entre 0 e 1")
    if arms < 2:
        raise PlanError("um experimento compara pelo menos dois braços")
    # Imported here: statsmodels takes seconds to import (see bot.experiments.statistics).
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    comparison_alpha = alpha / (arms - 1)
    effect = abs(proportion_effectsize(baseline + minimum_effect, baseline))
    n = NormalIndPower().solve_power(effect_size=effect, alpha=comparison_alpha, power=power, ratio=1.0)
    return SamplePlan(baseline, minimum_effect, alpha, power, arms, math.ceil(n), comparison_alpha)
