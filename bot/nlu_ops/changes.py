"""What changed in the training examples since the current model was trained (issue 17 §3), and which
model is "the current model": the one the slot answering debtors serves (bot.nlu_serving.state).

`bot.rasa.training` keeps the examples a model was trained on next to it (`regua-<fp>.examples.json`);
the examples now in `nlu_data/` are compared with them, intent by intent. For a model trained before
snapshots existed, only "nothing changed" is known (its name carries today's data fingerprint).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from bot.nlu_serving import state
from bot.rasa import training

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """Examples added and removed per intent since `model` (None: no model); `known` is False when the
    model's examples were not recorded (then added/removed are empty)."""

    model: Path | None
    known: bool
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing was added nor removed."""
        return not self.added and not self.removed


def current_model(session: Session, models_dir: Path) -> Path | None:
    """The model answering debtors: the active slot's, per the serving state (bot.nlu_serving.state).
    Before any serving record (or when the recorded file is gone) the newest `regua-*.tar.gz` in
    `models_dir`, what a slot starts with; None when there is neither."""
    served = state.served_model(session)
    if served and Path(served).is_file():
        return Path(served)
    if served:
        log.warning("the served model %s is missing; using the newest trained one", state.model_name(served))
    return newest_model(models_dir)


def newest_model(models_dir: Path) -> Path | None:
    """The newest `regua-*.tar.gz` in `models_dir`, or None."""
    models = sorted(
        models_dir.glob(f"{training.MODEL_PREFIX}*.tar.gz"), key=lambda p: (p.stat().st_mtime, p.name)
    )
    return models[-1] if models else None


def since_model(model: Path | None, data_dir: Path | None = None) -> Changes:
    """The differences between the examples in `data_dir` (default `nlu_data/`) and those `model` was
    trained on."""
    data_dir = data_dir or training.DATA_DIR
    if model is None:
        return Changes(None, known=False)
    snapshot = training.examples_snapshot(model)
    if not snapshot.exists():
        # Without a snapshot, only a model named after today's data fingerprint is known: nothing changed.
        same = data_dir == training.DATA_DIR and model.name == training.model_path().name
        return Changes(model, known=same)
    before: dict[str, list[str]] = json.loads(snapshot.read_text(encoding="utf-8"))
    now = training.nlu_examples(data_dir)
    added, removed = {}, {}
    for intent in sorted(set(before) | set(now)):
        old, new = set(before.get(intent, [])), set(now.get(intent, []))
        if new - old:
            added[intent] = sorted(new - old)
        if old - new:
            removed[intent] = sorted(old - new)
    return Changes(model, known=True, added=added, removed=removed)
