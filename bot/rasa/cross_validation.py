"""The NLU cross-validation report: `cross_validate()` runs Rasa's k-fold test (through
`bot.rasa.training`) and turns its intent report into an `NluReport`, written as Markdown to
`docs/nlu-report.md`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import PROJECT_ROOT, get_settings
from bot.rasa.training import (
    CONFIG_FILE,
    RasaError,
    _log_file,
    model_fingerprint,
    nlu_examples,
    run_rasa,
    training_data,
)

REPORT_FILE = PROJECT_ROOT / "docs" / "nlu-report.md"

# Keys of Rasa's classification report that are summaries, not intents.
_SUMMARY_KEYS = {"accuracy", "macro avg", "micro avg", "weighted avg"}


@dataclass(frozen=True)
class IntentScore:
    """Cross-validated scores of one intent."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int
    examples: int
    confused_with: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Misclassification:
    """A held-out example that got the wrong intent."""

    text: str
    intent: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class NluReport:
    """Result of `cross_validate()`: per-intent scores, macro F1 over the intents, and the worst mistakes."""

    folds: int
    generated_at: dt.datetime
    duration_seconds: float
    intents: list[IntentScore]
    macro_f1: float
    accuracy: float
    errors: list[Misclassification]
    fallback_predictions: int

    @property
    def total_examples(self) -> int:
        """Number of training examples over all intents."""
        return sum(score.examples for score in self.intents)


def cross_validate(
    folds: int = 5, *, verbose: bool = False, report_file: Path | None = REPORT_FILE
) -> NluReport:
    """Run Rasa's k-fold cross-validation of the NLU pipeline and summarise its intent report.

    Runs `rasa test nlu --cross-validation --folds <folds>` with output in `var/nlu-test`, reads the
    `intent_report.json` and `intent_errors.json` it writes, and (unless `report_file` is None) writes the
    Markdown report to `docs/nlu-report.md`.

    `macro_f1` is the unweighted mean F1 over the intents in the training data. Held-out examples that fell
    below the confidence threshold (predicted `nlu_fallback`) count as misses for their intent's recall;
    `nlu_fallback` itself is not averaged in as a class.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    out = get_settings().var_dir / "nlu-test"
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    data = training_data(get_settings().var_dir / "nlu-test-data")
    args = ["test", "nlu", "--nlu", str(data), "--config", str(CONFIG_FILE), "--cross-validation"]
    args += ["--folds", str(folds), "--out", str(out), "--no-plot"]
    run_rasa(args, log_name="test-nlu", verbose=verbose)
    duration = time.monotonic() - started

    report_json = out / "intent_report.json"
    if not report_json.exists():
        raise RasaError(f"Rasa did not write {report_json}; see {_log_file('test-nlu')}")
    report = parse_intent_report(
        json.loads(report_json.read_text()),
        errors=_read_errors(out / "intent_errors.json"),
        examples={intent: len(texts) for intent, texts in nlu_examples().items()},
        folds=folds,
        duration_seconds=duration,
    )
    if report_file is not None:
        write_markdown(report, report_file)
    return report


def _read_errors(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return []


def parse_intent_report(
    raw: dict,
    *,
    errors: list[dict],
    examples: dict[str, int],
    folds: int,
    duration_seconds: float = 0.0,
    now: dt.datetime | None = None,
) -> NluReport:
    """Turn Rasa's `intent_report.json` (and `intent_errors.json`) into an `NluReport`."""
    scores = []
    for name, row in sorted(raw.items()):
        if name in _SUMMARY_KEYS or not isinstance(row, dict) or name not in examples:
            continue
        scores.append(
            IntentScore(
                intent=name,
                precision=float(row["precision"]),
                recall=float(row["recall"]),
                f1=float(row["f1-score"]),
                support=int(row["support"]),
                examples=examples[name],
                confused_with={k: int(v) for k, v in (row.get("confused_with") or {}).items()},
            )
        )
    mistakes = [
        Misclassification(
            text=e["text"],
            intent=e["intent"],
            predicted=(e.get("intent_prediction") or {}).get("name") or "?",
            confidence=float((e.get("intent_prediction") or {}).get("confidence") or 0.0),
        )
        for e in errors
    ]
    mistakes.sort(key=lambda m: -m.confidence)
    return NluReport(
        folds=folds,
        generated_at=now or dt.datetime.now(dt.UTC),
        duration_seconds=duration_seconds,
        intents=scores,
        macro_f1=sum(s.f1 for s in scores) / len(scores) if scores else 0.0,
        accuracy=float(raw.get("accuracy", 0.0)),
        errors=mistakes,
        fallback_predictions=sum(1 for m in mistakes if m.predicted == "nlu_fallback"),
    )


def render_markdown(report: NluReport, *, max_errors: int = 25) -> str:
    """The report as Markdown (what `docs/nlu-report.md` holds)."""
    lines = [
        "# NLU cross-validation report",
        "",
        "Generated by `regua nlu test` (Rasa `rasa test nlu --cross-validation`). Do not edit by hand.",
        "",
        f"- Date: {report.generated_at:%Y-%m-%d %H:%M} UTC",
        f"- Folds: {report.folds}",
        f"- Training examples: {report.total_examples} over {len(report.intents)} intents",
        f"- Data fingerprint: `{model_fingerprint()}`",
        f"- **Macro F1: {report.macro_f1:.3f}** (unweighted mean over intents)",
        f"- Accuracy: {report.accuracy:.3f}",
        f"- Held-out examples below the confidence threshold (`nlu_fallback`): {report.fallback_predictions}",
        f"- Run time: {report.duration_seconds / 60:.1f} min",
        "",
        "## Per intent",
        "",
        "| Intent | Examples | Precision | Recall | F1 | Most confused with |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in report.intents:
        confused = ", ".join(f"{k} ({v})" for k, v in sorted(s.confused_with.items(), key=lambda kv: -kv[1]))
        scores = f"{s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f}"
        lines.append(f"| {s.intent} | {s.examples} | {scores} | {confused or '-'} |")
    pairs = sorted(
        ((s.intent, other, n) for s in report.intents for other, n in s.confused_with.items()),
        key=lambda t: (-t[2], t[0], t[1]),
    )
    lines += ["", "## Confusion highlights", ""]
    if pairs:
        lines += [f"- `{a}` predicted as `{b}`: {n}" for a, b, n in pairs[:10]]
    else:
        lines.append("- No confusions.")
    lines += ["", f"## Misclassified held-out examples (up to {max_errors}, most confident first)", ""]
    if report.errors:
        lines += ["| Text | Intent | Predicted | Confidence |", "| --- | --- | --- | ---: |"]
        for m in report.errors[:max_errors]:
            text = m.text.replace("|", "\\|")
            lines.append(f"| {text} | {m.intent} | {m.predicted} | {m.confidence:.2f} |")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_markdown(report: NluReport, path: Path = REPORT_FILE) -> Path:
    """Write the Markdown report to `path` (default `docs/nlu-report.md`) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(report))
    return path
