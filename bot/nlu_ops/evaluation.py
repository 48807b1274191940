"""A candidate evaluated against the current model on the same data (issue 17 §4). The current model is
the one answering debtors, chosen by the caller (`bot.nlu_ops.changes.current_model`, which asks the
serving state) and passed in as a path: this module reads no serving state.

Three sets of messages, none ever trained on by the candidate:

- the frozen **test split** (`nlu_data/test/test_split.yml`, bot.rasa.test_split): per-intent precision,
  recall and F1 from Rasa's `intent_report.json`, macro-F1, and the confusion matrix image Rasa draws;
- the **regression set**: every message ops corrected in the NLU inbox (a new intent, or out of scope),
  masked, with the intent they chose: each must come out as corrected;
- **recent real messages** (masked texts of the last `RECENT_DAYS` days with a recorded prediction): how
  often the candidate falls back (`nlu_fallback`) compared with what was recorded when they arrived.

Each model is run with `rasa test nlu --model <file>` in `.venv-rasa` (a process of its own: never the
serving Rasa). The result is a plain dict (stored as JSON on the candidate's row) that bot.nlu_ops.gate
judges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Message, MessagePrediction, NluVerdict, utcnow
from bot.nlu_ops.examples import example_text, same_example
from bot.nlu_ops.inbox import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT
from bot.rasa import cross_validation, training

RECENT_DAYS = 7
RECENT_LIMIT = 1000
CHANGED_LIMIT = 200
CONFUSION_MATRIX = "intent_confusion_matrix.png"


def regression_set(session: Session) -> dict[str, str]:
    """Every message ops corrected (the label differs from the prediction), as masked text -> intent; a
    text corrected twice keeps its latest label."""
    query = (
        select(MessagePrediction.intent, MessagePrediction.label, Message.body)
        .join(Message, Message.id == MessagePrediction.message_id)
        .where(
            MessagePrediction.verdict.in_((NluVerdict.RELABELLED, NluVerdict.OUT_OF_SCOPE)),
            MessagePrediction.label.is_not(None),
            Message.body != "",
        )
        .order_by(MessagePrediction.reviewed_at, MessagePrediction.id)
    )
    found: dict[str, tuple[str, str]] = {}
    for intent, label, body in session.execute(query):
        text = example_text(body)
        if label != intent and same_example(text):
            found[same_example(text)] = (text, label)
    return dict(found.values())


def recent_messages(session: Session, days: int = RECENT_DAYS) -> dict[str, str]:
    """Masked texts of the last `days` days that the model read, as text -> recorded intent (the most
    recent `RECENT_LIMIT`)."""
    since = utcnow() - timedelta(days=days)
    query = (
        select(MessagePrediction.intent, Message.body)
        .join(Message, Message.id == MessagePrediction.message_id)
        .where(MessagePrediction.intent.is_not(None), Message.created_at >= since, Message.body != "")
        .order_by(Message.created_at.desc())
        .limit(RECENT_LIMIT)
    )
    found: dict[str, str] = {}
    for intent, body in session.execute(query):
        text = example_text(body)
        if text:
            found.setdefault(text, intent)
    return found


def write_nlu(path: Path, labelled: dict[str, str]) -> Path:
    """Write text -> intent pairs as Rasa NLU YAML (what `rasa test nlu --nlu` reads)."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in sorted(labelled.items()):
        by_intent.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in sorted(by_intent.items()):
        lines += [f"  - intent: {intent}", "    examples: |", *(f"      - {t}" for t in texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rasa_test(
    model: Path, nlu_file: Path, out: Path, *, plot: bool, heartbeat: Callable[[], None] | None = None
) -> dict[str, str]:
    """Run `rasa test nlu` of `model` on `nlu_file` into `out`; returns each text's predicted intent."""
    args = ["test", "nlu", "--model", str(model), "--nlu", str(nlu_file), "--out", str(out), "--successes"]
    if not plot:
        args.append("--no-plot")
    training.run_rasa(args, log_name="candidate-test", heartbeat=heartbeat)
    predicted: dict[str, str] = {}
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if path.exists():
            for row in json.loads(path.read_text(encoding="utf-8")):
                predicted[row["text"]] = (row.get("intent_prediction") or {}).get("name") or FALLBACK_INTENT
    return predicted


def scores(out: Path, split: dict[str, list[str]]) -> dict:
    """Macro-F1, accuracy and per-intent scores from the `intent_report.json` in `out`."""
    raw = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    report = cross_validation.parse_intent_report(
        raw, errors=[], examples={intent: len(texts) for intent, texts in split.items()}, folds=0
    )
    return {
        "macro_f1": report.macro_f1,
        "accuracy": report.accuracy,
        "intents": {
            s.intent: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for s in report.intents
        },
    }


def evaluate(
    candidate: Path,
    current: Path | None,
    out: Path,
    *,
    data_dir: Path | None = None,
    regression: dict[str, str],
    recent: dict[str, str],
    heartbeat: Callable[[], None] | None = None,
) -> dict:
    """Evaluate `candidate` (and `current`, when there is one) on the test split of `data_dir`, the
    `regression` set and the `recent` messages; Rasa's files go under `out`. Returns the evaluation."""
    data_dir = data_dir or training.DATA_DIR
    split_file = training.ensure_test_split(data_dir)
    split = training.split_examples(data_dir)
    expected = {training.strip_annotations(t): intent for intent, texts in split.items() for t in texts}
    runs = {"candidate": candidate, "current": current}
    metrics: dict[str, dict | None] = {"candidate": None, "current": None}
    predicted: dict[str, dict[str, str]] = {"candidate": {}, "current": {}}
    probe = {**{t: _label(i) for t, i in recent.items()}, **regression}
    probe_file = write_nlu(out / "probe.yml", probe) if probe else None
    for name, model in runs.items():
        if model is None:
            continue
        predicted[name] = rasa_test(
            model, split_file, out / name, plot=name == "candidate", heartbeat=heartbeat
        )
        metrics[name] = scores(out / name, split)
        if probe_file is not None:
            predicted[name] |= rasa_test(
                model, probe_file, out / f"{name}-probe", plot=False, heartbeat=heartbeat
            )
    mine = predicted["candidate"]
    failures = [
        {"text": t, "expected": label, "predicted": mine.get(t, FALLBACK_INTENT)}
        for t, label in sorted(regression.items())
        if mine.get(t) != label
    ]
    recorded_fallbacks = sum(1 for i in recent.values() if i == FALLBACK_INTENT)
    candidate_fallbacks = sum(1 for t in recent if mine.get(t, FALLBACK_INTENT) == FALLBACK_INTENT)
    return {
        "candidate_model": candidate.name,
        "current_model": current.name if current is not None else None,
        "test_examples": len(expected),
        "candidate": metrics["candidate"],
        "current": metrics["current"],
        "regression": {"total": len(regression), "failures": failures},
        "fallback": {
            "messages": len(recent),
            "recorded": recorded_fallbacks / len(recent) if recent else 0.0,
            "candidate": candidate_fallbacks / len(recent) if recent else 0.0,
        },
        "changed": _changed(predicted, {**expected, **probe}),
        "confusion_matrix": (out / "candidate" / CONFUSION_MATRIX).exists(),
    }


def _label(recorded: str) -> str:
    # A recent message is there to be re-read, not scored: any label does; a real intent keeps Rasa quiet.
    return OUT_OF_SCOPE_INTENT if recorded == FALLBACK_INTENT else recorded


def _changed(predicted: dict[str, dict[str, str]], expected: dict[str, str]) -> list[dict]:
    """The messages whose predicted intent differs between the current model and the candidate."""
    before, after = predicted["current"], predicted["candidate"]
    if not before:
        return []
    rows = [
        {"text": t, "expected": expected.get(t), "current": before[t], "candidate": after.get(t)}
        for t in sorted(before)
        if after.get(t) != before[t]
    ]
    return rows[:CHANGED_LIMIT]
