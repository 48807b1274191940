"""The registry of candidate NLU models (issue 17 §4): one `nlu_models` row per training, its state
machine and where its files live.

    start ──> training ──(heartbeat, progress: preparing, training, evaluating)──> ready
                  │                                                         └──> failed (reason)
                  └── no heartbeat for `LEASE` (the job crashed or was killed) ──> failed (by the sweep)

Only one candidate trains at a time: the unique partial index `uq_nlu_models_one_training` refuses a
second `training` row, and `start` turns that into `AlreadyTraining`. Every change of state is a
conditional UPDATE on `status = 'training'`, so a job the sweep has given up on cannot bring its row back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import audit
from bot.config import get_settings
from bot.models import CandidateStatus, NluModel, User, utcnow
from bot.people import accounts
from bot.people.roles import Permission, require
from bot.rasa import training

# A training row whose job has not said it is alive for this long is given up on (the job beats every
# `training.HEARTBEAT_SECONDS`).
LEASE = timedelta(minutes=3)
STAGES = {
    "queued": "na fila",
    "preparing": "preparando os dados",
    "training": "treinando",
    "evaluating": "avaliando",
    "done": "concluído",
}
STALE_REASON = "O treinamento parou sem terminar (o processo foi interrompido). Peça um novo treinamento."


class AlreadyTraining(Exception):
    """Another candidate is being trained; the message is pt-BR, for the person."""


class CandidateGone(Exception):
    """The candidate is no longer training (the sweep gave up on it): the job must stop."""


def model_file_name(fingerprint: str, now: datetime) -> str:
    """A candidate's file name: the data fingerprint and when it was asked for (unique per training)."""
    return f"{training.MODEL_PREFIX}{fingerprint}-{now:%Y%m%d%H%M%S%f}.tar.gz"


def model_path(row: NluModel) -> Path:
    """Where the candidate's model file is (or will be) written."""
    return get_settings().candidates_dir / row.model_file


def artefacts_dir(row: NluModel) -> Path:
    """The candidate's evaluation files (Rasa's reports, the confusion matrix images)."""
    return get_settings().candidates_dir / row.model_file.removesuffix(".tar.gz")


def start(session: Session, user: User | None, *, via: str = "console") -> NluModel:
    """Register a candidate to train (`training`, stage "queued") for `user` (None: from the CLI);
    `AlreadyTraining` when another one is under way. The caller commits, then enqueues the job."""
    if user is not None:
        require(user, Permission.NLU_INBOX)
    expire_stale(session)
    now = utcnow()
    row = NluModel(
        model_file=model_file_name(training.model_fingerprint(), now),
        fingerprint=training.model_fingerprint(),
        status=CandidateStatus.TRAINING,
        requested_by_user_id=user.id if user is not None else None,
        requested_via=via,
        started_at=now,
        heartbeat_at=now,
        progress="queued",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise AlreadyTraining(
            "Já há um modelo sendo treinado. Aguarde ele terminar para pedir outro."
        ) from None
    actor = accounts.actor(user) if user is not None else "cli"
    audit.record(session, actor, "nlu.candidate_requested", "nlu_model", row.id, model=row.model_file)
    return row


def beat(session: Session, candidate_id: int, stage: str | None = None) -> None:
    """The job is alive (at `stage`, if given): renew the lease and commit. `CandidateGone` when the row
    is no longer training."""
    values: dict[str, object] = {"heartbeat_at": utcnow()}
    if stage is not None:
        values["progress"] = stage
    if not _update_training(session, candidate_id, **values):
        session.rollback()
        raise CandidateGone(candidate_id)
    session.commit()


def finish(session: Session, candidate_id: int, evaluation: dict) -> bool:
    """The candidate is trained and evaluated: `ready`, with its evaluation. False if it was given up."""
    now = utcnow()
    return _update_training(
        session,
        candidate_id,
        status=CandidateStatus.READY,
        progress="done",
        evaluation=evaluation,
        finished_at=now,
        heartbeat_at=now,
    )


def fail(session: Session, candidate_id: int, reason: str) -> bool:
    """The training failed for `reason` (pt-BR, no personal data): `failed`. False if already over."""
    now = utcnow()
    return _update_training(
        session, candidate_id, status=CandidateStatus.FAILED, error=reason, finished_at=now, heartbeat_at=now
    )


def expire_stale(session: Session, now: datetime | None = None) -> int:
    """The sweep: mark failed every `training` row whose lease ran out; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(NluModel)
        .where(NluModel.status == CandidateStatus.TRAINING, NluModel.heartbeat_at < now - LEASE)
        .values(status=CandidateStatus.FAILED, error=STALE_REASON, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def listing(session: Session, limit: int = 50) -> list[NluModel]:
    """The candidates, newest first (after the sweep, so none shows as training when its job is dead)."""
    expire_stale(session)
    return list(session.scalars(select(NluModel).order_by(NluModel.id.desc()).limit(limit)))


def find(session: Session, model: str | int) -> NluModel | None:
    """The candidate with this model file name (or id)."""
    if isinstance(model, int) or model.isdigit():
        return session.get(NluModel, int(model))
    return session.scalar(select(NluModel).where(NluModel.model_file == model))


def stage_label(row: NluModel) -> str:
    """The row's progress as ops read it."""
    return STAGES.get(row.progress, row.progress)


def _update_training(session: Session, candidate_id: int, **values: object) -> bool:
    values.setdefault("updated_at", utcnow())
    result = session.execute(
        update(NluModel)
        .where(NluModel.id == candidate_id, NluModel.status == CandidateStatus.TRAINING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
