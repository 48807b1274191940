"""Set-up shared by the candidate-model tests: private candidates/models/var directories, a copy of the
training data, and `tests/unit/fake_rasa.py` installed as the Rasa executable."""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import get_settings
from bot.db import Database
from bot.nlu_ops import trainer
from bot.rasa import training

FAKE_RASA = Path(__file__).with_name("fake_rasa.py")


@dataclass
class CandidateEnv:
    """Where a test's candidates, served models and training data are."""

    candidates_dir: Path
    models_dir: Path
    data_dir: Path
    current_model: Path


@pytest.fixture
def candidate_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database
) -> Iterator[CandidateEnv]:
    """Private directories and the fake Rasa for one test (the settings cache is cleared after)."""
    yield install(tmp_path, monkeypatch, database_url)
    get_settings.cache_clear()


def run_job(db: Database, env: CandidateEnv, candidate_id: int) -> bool:
    """Run the training job of `candidate_id` on the test's data copy, against its current model."""
    return trainer.run(db, candidate_id, data_dir=env.data_dir, current_model=env.current_model)


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> CandidateEnv:
    """Point the settings at private directories and the fake Rasa; returns where things are."""
    rasa = tmp_path / "rasa"
    rasa.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_RASA}" "$@"\n')
    rasa.chmod(0o755)
    env = CandidateEnv(
        candidates_dir=tmp_path / "candidates",
        models_dir=tmp_path / "models",
        data_dir=tmp_path / "nlu_data",
        current_model=tmp_path / "models" / "regua-current.tar.gz",
    )
    shutil.copytree(training.DATA_DIR, env.data_dir)
    env.models_dir.mkdir()
    env.current_model.write_text(json.dumps({"texts": [], "break": None}))
    for name, value in {
        "REGUA_ENV": "test",
        "DATABASE_URL": database_url,
        "REGUA_VAR_DIR": str(tmp_path / "var"),
        "REGUA_CANDIDATES_DIR": str(env.candidates_dir),
        "REGUA_MODELS_DIR": str(env.models_dir),
        "RASA_BIN": str(rasa),
        "SECRET_KEY": "test-secret-key-0123456789",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return env


def model_archive(path: Path, *, truncate: bool = False) -> Path:
    """A small gzip'd tar shaped like a Rasa model (a metadata.json); cut in half with `truncate`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, size in (("metadata.json", 20), ("components/weights.bin", 200_000)):
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(bytes(range(256)) * (size // 256) + b"x" * (size % 256)))
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2] if truncate else data)
    return path
