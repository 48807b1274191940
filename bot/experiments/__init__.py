"""A/B experiments on the régua's steps, with honest statistics (docs/experiments.md).

A step's variants (and its optional holdout, debtors who get no message for it) are an experiment: each
debtor always lands in the same arm (bot.reminders.rendering.assignment_key). This package is the service
layer the console's dashboard and `regua experiment` call:

- `power`: `plan_sample(baseline, minimum_effect, alpha, power, arms) -> SamplePlan`, the contacts per arm
  needed before starting;
- `readout`: `experiment_steps(session, creditor_id)`, the steps running one, and
  `readout(session, creditor_id, step_id, period, ...) -> Readout`, each arm's collection rate
  (bot.analytics) with a Wilson interval, z-tests against the control with Holm's correction, or "ainda
  não há dados suficientes" and why;
- `statistics`: the computations on counts (intervals, tests, the enough-data rule);
- `results`: the typed results (`Arm`, `Comparison`, `Readout`);
- `winner`: `declare_winner(session, creditor_id, step_id, variant_id, actor) -> Cadence`, which rewrites
  the creditor's cadence (validated) and audits it.
"""

from bot.experiments.power import PlanError, SamplePlan, plan_sample
from bot.experiments.readout import ExperimentError, experiment_steps, matured, readout
from bot.experiments.results import MESSAGE_ARM, NOT_ENOUGH_DATA, Arm, Comparison, Readout
from bot.experiments.statistics import MIN_EACH
from bot.experiments.winner import WINNER_DECLARED, declare_winner

__all__ = [
    "MESSAGE_ARM",
    "MIN_EACH",
    "NOT_ENOUGH_DATA",
    "WINNER_DECLARED",
    "Arm",
    "Comparison",
    "ExperimentError",
    "PlanError",
    "Readout",
    "SamplePlan",
    "declare_winner",
    "experiment_steps",
    "matured",
    "plan_sample",
    "readout",
]
