"""A real candidate, end to end (issue 17 §4–§5): the background job trains a tiny model with the real
Rasa (few epochs, so it takes a couple of minutes) into a private candidates directory, evaluates it and
the current model with `rasa test nlu` on the frozen test split, and the gate judges it. The served models
(models/) are only read: never retrained, never deleted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import get_settings
from bot.db import Database
from bot.models import CandidateStatus, NluModel
from bot.nlu_ops import candidates, gate, trainer
from bot.rasa import training


@pytest.fixture
def private_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[tuple[Path, Path]]:
    """Private candidates and models directories; returns (candidates dir, tiny config)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGUA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("REGUA_CANDIDATES_DIR", str(tmp_path / "candidates"))
    monkeypatch.setenv("REGUA_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    config = tmp_path / "config.yml"
    config.write_text(re.sub(r"epochs: \d+", "epochs: 5", training.CONFIG_FILE.read_text()), encoding="utf-8")
    yield tmp_path / "candidates", config
    get_settings.cache_clear()


def test_a_tiny_candidate_trains_off_the_serving_path_and_is_judged_against_the_current_model(
    migrated_database: Database, private_dirs: tuple[Path, Path], rasa_model: Path
) -> None:
    # Not the `db` fixture: it empties every table, under the stack other modules of this package run.
    db = migrated_database
    candidates_dir, config = private_dirs
    current = rasa_model  # the stack's served model (trained by the fixture when missing): never a skip
    served = {p.name: p.stat().st_mtime for p in current.parent.glob("regua-*")}
    with db.session() as s:
        candidate_id = candidates.start(s, None, via="cli").id

    assert trainer.run(db, candidate_id, config_file=config, current_model=current)

    with db.session() as s:
        row = s.get(NluModel, candidate_id)
        assert row.status == CandidateStatus.READY and row.progress == "done"
        result, name = row.evaluation, row.model_file
        verdict = gate.verdict(s, name)
    assert (candidates_dir / name).is_file()
    assert {p.name: p.stat().st_mtime for p in current.parent.glob("regua-*")} == served  # models untouched
    assert result["current_model"] == current.name
    held_out = sum(len(t) for t in training.split_examples().values())
    assert result["test_examples"] == held_out
    for side in ("candidate", "current"):
        scores = result[side]
        assert 0.0 < scores["macro_f1"] <= 1.0
        assert set(gate.CRITICAL_INTENTS) <= set(scores["intents"])
    image = candidates_dir / name.removesuffix(".tar.gz") / "candidate" / "intent_confusion_matrix.png"
    assert result["confusion_matrix"] and image.read_bytes().startswith(b"\x89PNG")
    # The gate's verdict is the rules applied to these numbers, whatever a 5-epoch model scores.
    assert (verdict.passed, verdict.reasons) == gate.judge(result)
