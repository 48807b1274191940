"""The statistics of a readout, on counts only (no database): Wilson intervals, two-proportion z-tests
against the control with Holm's correction, and the rule that says when there is enough data.

The rule (docs/experiments.md): every arm has reached the planned contacts per arm (when a plan is
given) and has at least `MIN_EACH` conversions and `MIN_EACH` contacts without one. The second part is
the usual condition for the normal approximation behind the z-test and the intervals (at least 10
successes and 10 failures per group); below it a difference is mostly noise.

statsmodels is imported where it is used: it takes seconds to import (pandas, scipy), which the web app
and the command line should pay only when they compute a readout.
"""

from __future__ import annotations

from bot.experiments.results import Arm, Comparison

MIN_EACH = 10


def arm(
    arm_id: str, n: int, conversions: int, alpha: float, *, control: bool = False, holdout: bool = False
) -> Arm:
    """An arm with the Wilson interval of its rate at confidence 1 - `alpha` (none without contacts)."""
    from statsmodels.stats.proportion import proportion_confint

    low = high = None
    if n > 0:
        low, high = (
            float(bound) for bound in proportion_confint(conversions, n, alpha=alpha, method="wilson")
        )
    return Arm(arm_id, n, conversions, low, high, is_control=control, is_holdout=holdout)


def missing(arms: list[Arm], planned_per_arm: int | None) -> list[str]:
    """Why the data are not enough yet, one sentence per arm that misses the rule (empty when enough)."""
    if len(arms) < 2:
        return ["o experimento precisa de pelo menos dois braços com contatos"]
    reasons = []
    for each in arms:
        if planned_per_arm is not None and each.n < planned_per_arm:
            reasons.append(f"{each.id} tem {each.n} de {planned_per_arm} contatos planejados")
        elif each.conversions < MIN_EACH or each.n - each.conversions < MIN_EACH:
            reasons.append(
                f"{each.id} tem {each.conversions} pagamento(s) em {each.n} contatos "
                f"(são precisos pelo menos {MIN_EACH} com e {MIN_EACH} sem pagamento)"
            )
    return reasons


def compare(arms: list[Arm], alpha: float) -> tuple[tuple[Comparison, ...], str | None]:
    """Each arm against the control arm (two-sided two-proportion z-test, pooled variance), and the name
    of the correction applied: Holm's when there is more than one comparison, else None."""
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    control = next(each for each in arms if each.is_control)
    others = [each for each in arms if not each.is_control]
    tests = []
    for each in others:
        z, p = proportions_ztest([each.conversions, control.conversions], [each.n, control.n])
        tests.append((each, float(z), float(p)))
    pvalues = [p for _, _, p in tests]
    correction = None
    adjusted = pvalues
    if len(tests) > 1:
        correction = "holm"
        adjusted = [float(p) for p in multipletests(pvalues, alpha=alpha, method="holm")[1]]
    comparisons = tuple(
        Comparison(
            arm=each.id,
            control=control.id,
            difference=each.conversions / each.n - control.conversions / control.n,
            z=z,
            p_value=p,
            p_adjusted=p_adj,
            significant=p_adj < alpha,
        )
        for (each, z, p), p_adj in zip(tests, adjusted, strict=True)
    )
    return comparisons, correction
