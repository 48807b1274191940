"""A stand-in for `.venv-rasa/bin/rasa` in unit tests of candidate training (the real one is exercised by
tests/integration/test_nlu_loop.py): `train` writes a "model" that records the examples it was given,
`test nlu` predicts each example's own intent (except those of the intent the model was told to break)
and writes the files Rasa writes. Behaviour is chosen by environment variables:

- FAKE_RASA_BREAK=<intent>: models trained now predict that intent's examples as `negar`;
- FAKE_RASA_FAIL=1: exit 1 (a failed training); FAKE_RASA_SLEEP=<seconds>: sleep first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _examples(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    files = [path] if path.is_file() else sorted(path.rglob("*.yml"))
    for file in files:
        for item in (YAML(typ="safe").load(file) or {}).get("nlu") or []:
            if "intent" not in item:
                continue
            for line in str(item.get("examples") or "").splitlines():
                if line.strip().startswith("-"):
                    found[line.strip()[1:].strip()] = item["intent"]
    return found


def _train(args: list[str]) -> None:
    out = Path(_option(args, "--out"))
    out.mkdir(parents=True, exist_ok=True)
    model = {
        "texts": sorted(_examples(Path(_option(args, "--data")))),
        "break": os.environ.get("FAKE_RASA_BREAK"),
    }
    (out / f"{_option(args, '--fixed-model-name')}.tar.gz").write_text(json.dumps(model))


def _test(args: list[str]) -> None:
    model = json.loads(Path(_option(args, "--model")).read_text())
    out = Path(_option(args, "--out"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for text, intent in _examples(Path(_option(args, "--nlu"))).items():
        predicted = "negar" if intent == model["break"] else intent
        rows.append(
            {"text": text, "intent": intent, "intent_prediction": {"name": predicted, "confidence": 0.9}}
        )
    report: dict = {}
    for intent in sorted({r["intent"] for r in rows} | {r["intent_prediction"]["name"] for r in rows}):
        tp = sum(1 for r in rows if r["intent"] == intent and r["intent_prediction"]["name"] == intent)
        support = sum(1 for r in rows if r["intent"] == intent)
        said = sum(1 for r in rows if r["intent_prediction"]["name"] == intent)
        precision, recall = (tp / said if said else 0.0), (tp / support if support else 0.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[intent] = {"precision": precision, "recall": recall, "f1-score": f1, "support": support}
    report["accuracy"] = sum(1 for r in rows if r["intent"] == r["intent_prediction"]["name"]) / len(rows)
    (out / "intent_report.json").write_text(json.dumps(report))
    right = [r for r in rows if r["intent"] == r["intent_prediction"]["name"]]
    (out / "intent_successes.json").write_text(json.dumps(right))
    (out / "intent_errors.json").write_text(json.dumps([r for r in rows if r not in right]))
    if "--no-plot" not in args:
        (out / "intent_confusion_matrix.png").write_bytes(b"\x89PNG fake")


def main(args: list[str]) -> int:
    time.sleep(float(os.environ.get("FAKE_RASA_SLEEP", "0")))
    if os.environ.get("FAKE_RASA_FAIL"):
        print("fake rasa: failing as asked")
        return 1
    if args[0] == "train":
        _train(args)
    elif args[:2] == ["test", "nlu"]:
        _test(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
