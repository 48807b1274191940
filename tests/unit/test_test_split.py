"""The frozen test split (bot.rasa.test_split): picked deterministically, written once, and never given
to Rasa for training (the copy `training_data` makes, and the command `ensure_model` runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.rasa import test_split, training
from tests.unit.candidate_env import CandidateEnv


def _pairs(examples: dict[str, list[str]]) -> dict[str, list[tuple[str, str]]]:
    return {i: [(t, training.strip_annotations(t)) for t in texts] for i, texts in examples.items()}


def test_the_split_depends_only_on_the_examples_not_on_their_order() -> None:
    examples = training.nlu_examples()
    shuffled = {i: list(reversed(texts)) for i, texts in reversed(list(examples.items()))}
    assert test_split.pick(_pairs(examples)) == test_split.pick(_pairs(shuffled))
    assert test_split.held_out("Já paguei  ONTEM") == test_split.held_out("já paguei ontem")


def test_the_committed_split_is_what_the_rule_picks_and_about_one_example_in_ten() -> None:
    split = training.split_examples()
    held = sum(len(t) for t in split.values())
    total = held + sum(len(t) for t in training.nlu_examples().values())
    assert 0.05 < held / total < 0.15
    assert all(test_split.held_out(training.strip_annotations(t)) for texts in split.values() for t in texts)


def test_a_small_intent_gives_nothing_to_the_split() -> None:
    few = {"raro": [(f"exemplo {n}", f"exemplo {n}") for n in range(test_split.MIN_TRAINING_EXAMPLES)]}
    assert test_split.pick(few) == {}


def test_the_split_is_written_once_and_then_frozen(tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    shutil.copytree(training.DATA_DIR / "nlu", data / "nlu")
    first = training.ensure_test_split(data).read_text(encoding="utf-8")
    extra = "\n".join(f"      - frase nova numero {n} para o teste" for n in range(60))
    with (data / "nlu" / "parar.yml").open("a", encoding="utf-8") as f:
        f.write(f"\n  - intent: parar\n    examples: |\n{extra}\n")
    assert training.ensure_test_split(data).read_text(encoding="utf-8") == first


def test_training_data_leaves_out_the_split_directory_and_every_held_out_example(tmp_path: Path) -> None:
    copy = training.training_data(tmp_path / "train")
    assert not (copy / test_split.SPLIT_DIR).exists() and (copy / "rules.yml").exists()
    held = {t for texts in training.split_examples().values() for t in texts}
    trained = training.nlu_examples(copy)
    assert not held & {t for texts in trained.values() for t in texts}
    assert sum(map(len, trained.values())) == sum(map(len, training.nlu_examples().values())) - len(held)


def test_the_split_directory_is_not_read_as_training_examples(tmp_path: Path) -> None:
    data = tmp_path / "nlu_data"
    for path, text in {"nlu/a.yml": "um", "test/test_split.yml": "dois"}.items():
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_text(f"nlu:\n  - intent: a\n    examples: |\n      - {text}\n", encoding="utf-8")
    assert training.nlu_examples(data) == {"a": ["um"]}
    assert training.split_examples(data) == {"a": ["dois"]}
    assert training.split_file() in training.training_files()  # the split changes the fingerprint


def test_ensure_model_trains_on_the_copy_without_the_split_and_leaves_candidates_alone(
    candidate_env: CandidateEnv,
) -> None:
    candidate = candidate_env.candidates_dir / "regua-0123456789ab-20261206120000000000.tar.gz"
    candidate.parent.mkdir()
    candidate.write_text("{}")
    model = training.ensure_model(keep=())  # as `regua nlu train` when no model is in use
    assert (
        candidate.exists() and not candidate_env.current_model.exists()
    )  # older served models go, candidates stay
    assert model.parent == candidate_env.models_dir
    trained_on = set(json.loads(model.read_text())["texts"])
    held = {t for texts in training.split_examples().values() for t in texts}
    assert trained_on and not trained_on & held
