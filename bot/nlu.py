"""The Rasa model's life cycle: training data, fingerprint, training, validation and cross-validation.

Rasa lives in its own virtualenv (`.venv-rasa`, made by `make bootstrap`) and is only ever run as a
subprocess (`settings.rasa_bin`), with the project root as working directory and telemetry off. Nothing
here imports Rasa.

The model file is named after a fingerprint of the training inputs (`config.yml`, `domain.yml` and every
file under `nlu_data/`), so `ensure_model()` retrains exactly when one of them changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from bot.config import PROJECT_ROOT, get_settings

CONFIG_FILE = PROJECT_ROOT / "config.yml"
DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
DATA_DIR = PROJECT_ROOT / "nlu_data"
REPORT_FILE = PROJECT_ROOT / "docs" / "nlu-report.md"
MODEL_PREFIX = "regua-"

# `[texto](entidade)` or `[texto]{"entity": "entidade", ...}` inside a training example.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")
# Keys of Rasa's classification report that are summaries, not intents.
_SUMMARY_KEYS = {"accuracy", "macro avg", "micro avg", "weighted avg"}
_LOG_TAIL_LINES = 40
# `path.py:12: SomethingWarning: ...` lines that Rasa's dependencies print on every start.
_WARNING_LINE = re.compile(r"^\S+:\d+: \w*Warning: ")


class RasaError(RuntimeError):
    """A Rasa command failed; the message carries the end of its output."""


class RasaNotInstalledError(RasaError):
    """The Rasa virtualenv is missing."""


# --------------------------------------------------------------------------------------------------------
# Training data
# --------------------------------------------------------------------------------------------------------


def training_files() -> list[Path]:
    """Every file that goes into a model: `config.yml`, `domain.yml` and the files under `nlu_data/`.

    Paths are absolute and sorted; hidden files (editor swap files, `.DS_Store`) are left out.
    """
    data = sorted(
        p
        for p in DATA_DIR.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(DATA_DIR).parts)
    )
    return [CONFIG_FILE, DOMAIN_FILE, *data]


def model_fingerprint() -> str:
    """First 12 hex characters of a sha256 over the training files' relative paths and contents."""
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def model_path() -> Path:
    """Where the model for the current training data lives (it may not be trained yet)."""
    return get_settings().models_dir / f"{MODEL_PREFIX}{model_fingerprint()}.tar.gz"


def strip_annotations(example: str) -> str:
    """The plain text of a training example: `paguei [ontem](data)` -> `paguei ontem`."""
    return _ANNOTATION.sub(lambda m: m.group("text"), example)


def entity_annotations(example: str) -> list[tuple[str, str]]:
    """The `(text, entity)` pairs annotated in a training example."""
    pairs = []
    for m in _ANNOTATION.finditer(example):
        name = m.group("name") or json.loads(m.group("json")).get("entity", "")
        pairs.append((m.group("text"), name))
    return pairs


def nlu_examples(data_dir: Path = DATA_DIR) -> dict[str, list[str]]:
    """Training examples by intent, as written (with entity annotations), from the YAML in `data_dir`."""
    yaml = YAML(typ="safe")
    examples: dict[str, list[str]] = {}
    for path in sorted(data_dir.rglob("*.yml")) + sorted(data_dir.rglob("*.yaml")):
        for item in (yaml.load(path) or {}).get("nlu") or []:
            if "intent" not in item:
                continue  # regexes, lookups and synonyms
            lines = str(item.get("examples") or "").splitlines()
            texts = [line.strip()[1:].strip() for line in lines if line.strip().startswith("-")]
            examples.setdefault(item["intent"], []).extend(texts)
    return examples


# --------------------------------------------------------------------------------------------------------
# Running Rasa
# --------------------------------------------------------------------------------------------------------


def rasa_env() -> dict[str, str]:
    """Environment for a Rasa subprocess: ours, with telemetry off and TensorFlow/SQLAlchemy chatter down."""
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
    )
    return env


def rasa_command(*args: str) -> list[str]:
    """`[rasa, *args]`, or `RasaNotInstalledError` (with the fix) when the Rasa virtualenv is missing."""
    rasa_bin = get_settings().rasa_bin
    if not rasa_bin.exists():
        raise RasaNotInstalledError(f"Rasa is not installed ({rasa_bin} is missing): run `make bootstrap`.")
    return [str(rasa_bin), *args]


def _log_file(name: str) -> Path:
    logs = get_settings().var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"rasa-{name}.log"


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file ("" if it does not exist), without Python's warning noise."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    kept: list[str] = []
    skipping = False
    for line in text:
        if _WARNING_LINE.search(line):
            skipping = True  # a warning line, followed by indented/continuation lines
            continue
        if skipping and (line.startswith((" ", "Implementing implicit")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept[-lines:])


def run_rasa(args: Sequence[str], *, log_name: str, verbose: bool = False) -> Path:
    """Run `rasa *args` in the project root; return its log file.

    Output goes to `var/logs/rasa-<log_name>.log` (and to the terminal too when `verbose`). A non-zero
    exit raises `RasaError` with the end of the log.
    """
    command = rasa_command(*args)
    log = _log_file(log_name)
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        if verbose:
            proc = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=rasa_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                out.write(line)
            returncode = proc.wait()
        else:
            returncode = subprocess.run(
                command, cwd=PROJECT_ROOT, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT
            ).returncode
    if returncode != 0:
        raise RasaError(
            f"`rasa {' '.join(args)}` failed with exit code {returncode} (full log: {log}):\n{tail(log)}"
        )
    return log


@contextlib.contextmanager
def _training_lock() -> Iterator[None]:
    """Serialise training between processes (a test session and a dev server may both want a model)."""
    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".train.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_model(force: bool = False, *, verbose: bool = False) -> Path:
    """The trained model for the current training data, training it first if it is missing.

    Training runs only when `models/regua-<fingerprint>.tar.gz` does not exist (or `force`); afterwards
    older `regua-*.tar.gz` files are removed. Returns the model's path.
    """
    target = model_path()
    with _training_lock():
        if force or not target.exists():
            fixed_name = target.name.removesuffix(".tar.gz")
            args = ["train", "--config", str(CONFIG_FILE), "--domain", str(DOMAIN_FILE)]
            args += ["--data", str(DATA_DIR), "--out", str(target.parent), "--fixed-model-name", fixed_name]
            if force:
                args.append("--force")
            try:
                run_rasa(args, log_name="train", verbose=verbose)
            except BaseException:
                target.unlink(missing_ok=True)  # never leave a half-written model behind
                raise
            if not target.exists():
                raise RasaError(
                    f"Rasa training finished but {target} was not written; see {_log_file('train')}"
                )
        for old in target.parent.glob(f"{MODEL_PREFIX}*.tar.gz"):
            if old != target:
                old.unlink(missing_ok=True)
    return target


def validate(*, strict: bool = True, verbose: bool = False) -> None:
    """Run `rasa data validate` on config, domain and data; raise `RasaError` on any problem.

    With `strict` (the default) validator warnings (unused intents, utterances without rules...) fail too.
    """
    args = ["data", "validate", "--config", str(CONFIG_FILE), "--domain", str(DOMAIN_FILE)]
    args += ["--data", str(DATA_DIR)]
    if strict:
        args.append("--fail-on-warnings")
    run_rasa(args, log_name="validate", verbose=verbose)


# --------------------------------------------------------------------------------------------------------
# Cross-validation report
# --------------------------------------------------------------------------------------------------------


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
    args = ["test", "nlu", "--nlu", str(DATA_DIR), "--config", str(CONFIG_FILE), "--cross-validation"]
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
