"""Training a candidate as a background job (issue 17 §4), off the serving path.

`enqueue` puts `train_job` on the RQ queue `nlu` (a worker started with `regua worker --queue nlu`
runs it: never the web process, and never the worker answering debtors, whose jobs must not wait behind
a training). The job trains into `settings.candidates_dir` with Rasa as a subprocess, writing the
candidate's stage (preparing, training, evaluating, done) and a heartbeat as it goes, evaluates it
against the current model (bot.nlu_ops.evaluation) and ends `ready` or `failed` with a plain pt-BR
reason. A job that dies without a word leaves a row whose heartbeat stops: the sweep
(bot.nlu_ops.candidates.expire_stale) marks it failed; RQ's failure callback does so at once when RQ
sees the failure (an exception, a timeout).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import redis
from rq import Callback, Queue
from sqlalchemy.orm import Session

from bot.config import get_settings
from bot.conversation.sweep_schedule import RESULT_TTL
from bot.db import Database, get_database
from bot.models import CandidateStatus, NluModel, User
from bot.nlu_ops import candidates, changes, evaluation
from bot.rasa import training

log = logging.getLogger(__name__)

QUEUE = "nlu"
JOB_TIMEOUT = 3 * 3600
TRAIN_JOB = "bot.nlu_ops.trainer.train_job"
FAILED_CALLBACK = "bot.nlu_ops.trainer.job_failed"


def enqueue(conn: redis.Redis, candidate_id: int) -> None:
    """Put the training of candidate `candidate_id` on the `nlu` queue."""
    Queue(QUEUE, connection=conn).enqueue(
        TRAIN_JOB,
        candidate_id,
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=86400,
        on_failure=Callback(FAILED_CALLBACK),
    )


class NotQueued(Exception):
    """The training could not be put on the queue (Redis did not answer); the message is pt-BR."""


NOT_QUEUED = "Não foi possível pôr o treinamento na fila (o Redis não respondeu). Tente de novo."


def request(session: Session, user: User | None, conn: redis.Redis, *, via: str = "console") -> NluModel:
    """Register a candidate for `user` (None: the CLI), commit, and enqueue its training. Raises
    `candidates.AlreadyTraining`, or `NotQueued` (the candidate is then failed, so a new request may go)."""
    row = candidates.start(session, user, via=via)
    session.commit()
    try:
        enqueue(conn, row.id)
    except (redis.RedisError, OSError):
        candidates.fail(session, row.id, NOT_QUEUED)
        session.commit()
        raise NotQueued(NOT_QUEUED) from None
    return row


def train_job(candidate_id: int) -> bool:
    """RQ job: train and evaluate candidate `candidate_id`; True when it ended ready."""
    return run(get_database(get_settings().effective_database_url), candidate_id)


def job_failed(job, connection, exc_type, exc_value, traceback) -> None:  # type: ignore[no-untyped-def]
    """RQ's failure callback: the job failed outside our own handling (a timeout, a lost worker)."""
    database = get_database(get_settings().effective_database_url)
    with database.session() as session:
        candidates.fail(session, int(job.args[0]), failure_reason(exc_value))


def failure_reason(error: BaseException | None) -> str:
    """A failure as ops read it: plain pt-BR, no personal data (the Rasa log stays in var/logs/)."""
    if isinstance(error, training.RasaNotInstalledError):
        return "O Rasa não está instalado neste servidor (rode make bootstrap)."
    if isinstance(error, training.RasaError):
        return "O Rasa falhou ao treinar ou avaliar o modelo; o log está em var/logs/ (rasa-candidate-*.log)."
    if error is not None and type(error).__name__ == "JobTimeoutException":
        return "O treinamento passou do tempo máximo e foi interrompido."
    name = type(error).__name__ if error is not None else "desconhecido"
    return (
        f"Erro inesperado no treinamento ({name}). Peça um novo treinamento; "
        "se repetir, avise o time técnico."
    )


def run(
    database: Database,
    candidate_id: int,
    *,
    data_dir: Path | None = None,
    config_file: Path | None = None,
    current_model: Path | bool | None = True,
) -> bool:
    """Train and evaluate candidate `candidate_id` (a `training` row); True when it ended `ready`.

    `data_dir` and `config_file` default to the project's; `current_model` (the baseline) to the model
    answering debtors (`changes.current_model`: the serving state's, else the newest in
    `settings.models_dir`; None: nothing to compare with). Never writes to `models_dir`.
    """
    data_dir = data_dir or training.DATA_DIR
    session = database.new_session()
    try:
        if current_model is True:
            current_model = changes.current_model(session, get_settings().models_dir)
        row = session.get(NluModel, candidate_id)
        if row is None or row.status != CandidateStatus.TRAINING:
            return False
        target, out = candidates.model_path(row), candidates.artefacts_dir(row)

        def beat(stage: str | None = None) -> None:
            candidates.beat(session, candidate_id, stage)

        try:
            beat("preparing")
            out.mkdir(parents=True, exist_ok=True)
            training.ensure_test_split(data_dir)
            data = training.training_data(out / "train-data", data_dir)
            regression, recent = evaluation.regression_set(session), evaluation.recent_messages(session)
            beat("training")
            _train(target, data, config_file or training.CONFIG_FILE, beat)
            training.write_examples_snapshot(target, data_dir)
            beat("evaluating")
            result = evaluation.evaluate(
                target,
                current_model or None,
                out,
                data_dir=data_dir,
                regression=regression,
                recent=recent,
                heartbeat=beat,
            )
            done = candidates.finish(session, candidate_id, result)
            session.commit()
            shutil.rmtree(out / "train-data", ignore_errors=True)
            return done
        except candidates.CandidateGone:
            log.warning("candidate %s was given up while training", candidate_id)
            _discard(target)
            return False
        except BaseException as error:
            session.rollback()
            log.warning("candidate %s failed: %s", candidate_id, type(error).__name__)
            candidates.fail(session, candidate_id, failure_reason(error))
            session.commit()
            _discard(target)
            if not isinstance(error, Exception):
                raise
            return False
    finally:
        session.close()


def _train(target: Path, data: Path, config_file: Path, beat) -> None:  # type: ignore[no-untyped-def]
    """`rasa train` of `data` into `target` (its directory, under its name)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    args = ["train", "--config", str(config_file), "--domain", str(training.DOMAIN_FILE)]
    args += ["--data", str(data), "--out", str(target.parent)]
    args += ["--fixed-model-name", target.name.removesuffix(".tar.gz")]
    training.run_rasa(args, log_name="candidate-train", heartbeat=beat)
    if not target.exists():
        raise training.RasaError(f"Rasa finished but {target.name} was not written")


def _discard(target: Path) -> None:
    """Remove a half-trained candidate's file (never a served model: candidates have their own dir)."""
    target.unlink(missing_ok=True)
    training.examples_snapshot(target).unlink(missing_ok=True)
