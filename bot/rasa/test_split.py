"""The frozen test split (issue 17 §4): examples kept apart from training, to compare models on.

One example in `SHARE` is held out, chosen by a stable hash of its plain text (case and spaces aside),
so the choice never depends on file order nor on when it is made. The split is written once, as Rasa NLU
YAML, to `nlu_data/test/test_split.yml` (`bot.rasa.training.ensure_test_split`) and kept from then on;
training never reads that directory and leaves the held-out examples out of the data it gives Rasa
(`training_copy`). Nothing here imports Rasa nor reads settings.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

SPLIT_DIR = "test"  # under nlu_data/
SPLIT_FILE = "test_split.yml"
SHARE = 10
# An intent keeps at least this many training examples: a small intent gives none to the split.
MIN_TRAINING_EXAMPLES = 20


def held_out(plain_text: str) -> bool:
    """True when the example with this plain text (annotations stripped) belongs to the test split."""
    key = " ".join(plain_text.casefold().split())
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % SHARE == 0


def pick(examples: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    """The held-out examples by intent, from `(as written, plain text)` pairs by intent; sorted, so the
    same data always gives the same split."""
    chosen: dict[str, list[str]] = {}
    for intent, pairs in sorted(examples.items()):
        picked = sorted({written for written, plain in pairs if held_out(plain)})
        if picked and len(pairs) - len(picked) >= MIN_TRAINING_EXAMPLES:
            chosen[intent] = picked
    return chosen


def render(split: dict[str, list[str]]) -> str:
    """The split as Rasa NLU YAML (`rasa test nlu --nlu` reads it)."""
    lines = [
        "# The frozen test split (bot/rasa/test_split.py): never trained on. Written once; keep it.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent, texts in sorted(split.items()):
        lines += [f"  - intent: {intent}", "    examples: |", *(f"      - {t}" for t in texts)]
    return "\n".join(lines) + "\n"


def training_copy(data_dir: Path, dest: Path, held: set[str]) -> Path:
    """Copy `data_dir` to `dest` (replaced) without the split directory, hidden files and the example
    lines written as in `held`: the data Rasa trains on. Returns `dest`."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(
        data_dir,
        dest,
        ignore=lambda folder, names: [
            n for n in names if n.startswith(".") or (Path(folder) == data_dir and n == SPLIT_DIR)
        ],
    )
    for path in sorted(dest.rglob("*.yml")) + sorted(dest.rglob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not _is_held_example(line, held)]
        if len(kept) != len(lines):
            path.write_text("".join(kept), encoding="utf-8")
    return dest


def _is_held_example(line: str, held: set[str]) -> bool:
    stripped = line.strip()
    return stripped.startswith("-") and stripped[1:].strip() in held
