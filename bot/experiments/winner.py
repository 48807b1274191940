"""Ending an experiment: the winner becomes the step's only content, in the creditor's own cadence.

`declare_winner` rewrites the creditor's cadence YAML (its own, or Régua's default when it has none) so
that the step keeps only the winning variant's texts, without variants, holdout or planned sample size;
comments and the rest of the file are kept. The result is validated by the same `load_cadence` as
`regua creditor cadence`: an invalid result is refused and nothing is written. The change is audited
(`experiment.winner_declared`, with the step, the variant and the cadence's name).
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from bot import audit
from bot.experiments.readout import ExperimentError
from bot.experiments.results import MESSAGE_ARM
from bot.models import Creditor
from bot.reminders.cadence import DEFAULT_CADENCE_FILE, HOLDOUT, Cadence, CadenceError, load_cadence
from bot.reminders.planner import cadence_for

WINNER_DECLARED = "experiment.winner_declared"
_EXPERIMENT_FIELDS = ("variants", "holdout", "sample_size")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")  # round trip: the creditor's comments and layout survive
    yaml.width = 4096  # never fold a long SMS text onto several lines
    yaml.preserve_quotes = True
    return yaml


def _step_mapping(document: Any, step_id: str) -> Any:
    for raw in document.get("steps") or []:
        if isinstance(raw, dict) and str(raw.get("id", "")).strip() == step_id:
            return raw
    raise ExperimentError(f"a régua do credor não tem a etapa {step_id!r}")


def rewritten(text: str, step_id: str, variant_id: str | None) -> str:
    """`text` (a cadence's YAML) with the step's experiment ended: the variant's sms and whatsapp (when
    it overrides them) become the step's own, and variants, holdout and sample_size are removed.
    `variant_id` None (or `MESSAGE_ARM`) keeps the step's own message (a step with a holdout only)."""
    yaml = _yaml()
    document = yaml.load(text)
    step = _step_mapping(document, step_id)
    variants = step.get("variants") or []
    if variant_id is not None:
        winner = next((v for v in variants if isinstance(v, dict) and v.get("id") == variant_id), None)
        if winner is None:
            raise ExperimentError(f"a etapa {step_id!r} não tem a variante {variant_id!r}")
        for channel in ("sms", "whatsapp"):
            if winner.get(channel) is not None:
                step[channel] = winner[channel]
    for name in _EXPERIMENT_FIELDS:
        step.pop(name, None)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def declare_winner(
    session: Session, creditor_id: int, step_id: str, variant_id: str | None, actor: str
) -> Cadence:
    """Make `variant_id` the only content of the step in the creditor's cadence (None: the step's own
    message wins over its holdout), validated and audited; returns the new cadence.

    Raises `ExperimentError` (nothing written) when the step has no experiment, the variant is not one of
    its variants, the holdout is named as the winner, or the result is not a valid cadence."""
    creditor = session.get(Creditor, creditor_id)
    if creditor is None:
        raise ExperimentError(f"credor {creditor_id} não encontrado")
    if variant_id == HOLDOUT:
        raise ExperimentError(
            "o holdout não pode vencer: para deixar de enviar a etapa, retire-a da régua "
            "(regua creditor cadence)"
        )
    if variant_id == MESSAGE_ARM:
        variant_id = None
    try:
        step = cadence_for(creditor).step(step_id)
    except KeyError:
        raise ExperimentError(f"a régua do credor não tem a etapa {step_id!r}") from None
    if not step.is_experiment:
        raise ExperimentError(f"a etapa {step_id!r} não tem experimento (nem variantes, nem holdout)")
    if variant_id is None and step.variants:
        raise ExperimentError(f"informe a variante vencedora ({', '.join(v.id for v in step.variants)})")
    source = creditor.cadence_yaml or DEFAULT_CADENCE_FILE.read_text(encoding="utf-8")
    text = rewritten(source, step_id, variant_id)
    try:
        cadence = load_cadence(text, label=f"régua do credor {creditor.id}")
    except CadenceError as error:
        raise ExperimentError(f"a régua resultante é inválida, nada foi gravado: {error}") from None
    creditor.cadence_yaml = text
    audit.record(
        session,
        actor,
        WINNER_DECLARED,
        "creditor",
        creditor.id,
        step=step_id,
        variant=variant_id or MESSAGE_ARM,
        cadence=cadence.name,
        had_holdout=step.holdout,
    )
    return cadence
