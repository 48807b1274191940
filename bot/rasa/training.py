"""The Rasa model's life cycle: training data, fingerprint, training, validation and cross-validation.

Rasa lives in its own virtualenv (`.venv-rasa`, made by `make bootstrap`) and is only ever run as a
subprocess (`settings.rasa_bin`), with the project root as working directory and telemetry off. Nothing
here imports Rasa.

The cross-validation report lives in `bot.rasa.cross_validation`.

The model file is named after a fingerprint of the training inputs (`config.yml`, `domain.yml` and every
file under `nlu_data/`), so `ensure_model()` retrains exactly when one of them changed. Rasa trains on a
copy of `nlu_data/` without the frozen test split (`bot.rasa.test_split`): neither its file nor the
examples it holds are ever trained on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

from ruamel.yaml import YAML

from bot.config import PROJECT_ROOT, get_settings
from bot.rasa import test_split

CONFIG_FILE = PROJECT_ROOT / "config.yml"
DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
DATA_DIR = PROJECT_ROOT / "nlu_data"
MODEL_PREFIX = "regua-"

# `[texto](entidade)` or `[texto]{"entity": "entidade", ...}` inside a training example.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")
_LOG_TAIL_LINES = 40
HEARTBEAT_SECONDS = 15
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
    """Examples by intent, as written (with entity annotations), from the YAML in `data_dir` (the test
    split's directory aside: see `split_examples`)."""
    split_dir = data_dir / test_split.SPLIT_DIR
    paths = sorted(data_dir.rglob("*.yml")) + sorted(data_dir.rglob("*.yaml"))
    return file_examples([p for p in paths if not p.is_relative_to(split_dir)])


def file_examples(paths: Sequence[Path]) -> dict[str, list[str]]:
    """Examples by intent, as written, from the NLU YAML files `paths`."""
    yaml = YAML(typ="safe")
    examples: dict[str, list[str]] = {}
    for path in paths:
        for item in (yaml.load(path) or {}).get("nlu") or []:
            if "intent" not in item:
                continue  # regexes, lookups and synonyms
            lines = str(item.get("examples") or "").splitlines()
            texts = [line.strip()[1:].strip() for line in lines if line.strip().startswith("-")]
            examples.setdefault(item["intent"], []).extend(texts)
    return examples


def split_file(data_dir: Path = DATA_DIR) -> Path:
    """Where the frozen test split of `data_dir` lives (`nlu_data/test/test_split.yml`)."""
    return data_dir / test_split.SPLIT_DIR / test_split.SPLIT_FILE


def ensure_test_split(data_dir: Path = DATA_DIR) -> Path:
    """The test split's file, picked from the examples of `data_dir` and written if it does not exist yet
    (then kept: later examples never join it)."""
    path = split_file(data_dir)
    if not path.exists():
        pairs = {
            intent: [(text, strip_annotations(text)) for text in texts]
            for intent, texts in nlu_examples(data_dir).items()
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(test_split.render(test_split.pick(pairs)), encoding="utf-8")
    return path


def split_examples(data_dir: Path = DATA_DIR) -> dict[str, list[str]]:
    """The test split's examples by intent ({} when it was never picked)."""
    path = split_file(data_dir)
    return file_examples([path]) if path.exists() else {}


def training_data(dest: Path, data_dir: Path = DATA_DIR) -> Path:
    """Write to `dest` the data Rasa trains on: `data_dir` without the test split. Returns `dest`."""
    held = {text for texts in split_examples(data_dir).values() for text in texts}
    return test_split.training_copy(data_dir, dest, held)


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


def run_rasa(
    args: Sequence[str],
    *,
    log_name: str,
    verbose: bool = False,
    heartbeat: Callable[[], None] | None = None,
) -> Path:
    """Run `rasa *args` in the project root; return its log file.

    Output goes to `var/logs/rasa-<log_name>.log` (and to the terminal too when `verbose`). A non-zero
    exit raises `RasaError` with the end of the log. `heartbeat`, if given, is called every
    `HEARTBEAT_SECONDS` while Rasa runs (a background job proves it is alive); if it raises, Rasa is
    stopped and the error goes up.
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
            proc = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=rasa_env(), stdout=out, stderr=subprocess.STDOUT
            )
            returncode = _wait(proc, heartbeat)
    if returncode != 0:
        raise RasaError(
            f"`rasa {' '.join(args)}` failed with exit code {returncode} (full log: {log}):\n{tail(log)}"
        )
    return log


def _wait(proc: subprocess.Popen, heartbeat: Callable[[], None] | None) -> int:
    try:
        while True:
            try:
                return proc.wait(timeout=HEARTBEAT_SECONDS)
            except subprocess.TimeoutExpired:
                if heartbeat is not None:
                    heartbeat()
    except BaseException:
        proc.kill()  # never leave a Rasa training behind its job
        proc.wait()
        raise


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


def ensure_model(
    force: bool = False, *, verbose: bool = False, keep: Collection[str | Path] | None = None
) -> Path:
    """The trained model for the current training data, training it first if it is missing.

    Training runs only when `models/regua-<fingerprint>.tar.gz` does not exist (or `force`); afterwards
    older `regua-*` files (models and their `.examples.json`) are removed, except those of the models in
    `keep` (paths or file names: what the serving state and the deployment history name, read by the
    caller with `bot.nlu_serving.state.referenced_models`, since a slot may run one and a rollback may
    need any). `keep=None` (the default: a caller that does not know them, such as a test session sharing
    `models/` with a running stack) removes nothing. Returns the model's path.
    """
    target = model_path()
    with _training_lock():
        if force or not target.exists():
            fixed_name = target.name.removesuffix(".tar.gz")
            data = training_data(get_settings().var_dir / "train-data")
            args = ["train", "--config", str(CONFIG_FILE), "--domain", str(DOMAIN_FILE)]
            args += ["--data", str(data), "--out", str(target.parent), "--fixed-model-name", fixed_name]
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
        if not examples_snapshot(target).exists():
            write_examples_snapshot(target)
        if keep is not None:
            remove_old_models(target.parent, {target, *keep})
    return target


def remove_old_models(models_dir: Path, keep: Collection[str | Path]) -> list[Path]:
    """Remove the `regua-*` files of `models_dir` (models and their examples snapshots) whose model is
    not in `keep` (paths or file names); returns what was removed."""
    kept = {_model_stem(Path(model).name) for model in keep}
    removed = []
    for old in sorted(models_dir.glob(f"{MODEL_PREFIX}*")):
        if _model_stem(old.name) not in kept:
            old.unlink(missing_ok=True)
            removed.append(old)
    return removed


def _model_stem(name: str) -> str:
    # `regua-<fp>.tar.gz` and `regua-<fp>.examples.json` belong to the model `regua-<fp>`.
    return name.split(".", 1)[0]


def examples_snapshot(model: Path) -> Path:
    """Where the examples `model` was trained on are kept (`regua-<fingerprint>.examples.json`), so
    `bot.nlu_ops.changes` can say what changed since."""
    return model.with_name(model.name.removesuffix(".tar.gz") + ".examples.json")


def write_examples_snapshot(model: Path, data_dir: Path = DATA_DIR) -> Path:
    """Record the training examples by intent next to `model` (sorted: the same data, the same file)."""
    examples = {intent: sorted(set(texts)) for intent, texts in sorted(nlu_examples(data_dir).items())}
    path = examples_snapshot(model)
    path.write_text(json.dumps(examples, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return path


def validate(*, strict: bool = True, verbose: bool = False) -> None:
    """Run `rasa data validate` on config, domain and data; raise `RasaError` on any problem.

    With `strict` (the default) validator warnings (unused intents, utterances without rules...) fail too.
    """
    args = ["data", "validate", "--config", str(CONFIG_FILE), "--domain", str(DOMAIN_FILE)]
    args += ["--data", str(training_data(get_settings().var_dir / "validate-data"))]
    if strict:
        args.append("--fail-on-warnings")
    run_rasa(args, log_name="validate", verbose=verbose)
