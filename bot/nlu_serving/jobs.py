"""Promotes and rollbacks asked for in the console, run as a background job on the RQ queue `nlu` (the
worker that trains candidates: `regua worker --queue nlu`), never in the web process.

The web request claims the swap (`state.claim`: a second click, or a second person, is refused at once
with "Já há uma troca de modelo em andamento ...") and enqueues `swap_job` with the claim; the job carries
it out (`swap.carry_out`). While it runs, the job keeps a short-lived key in Redis with its stage
(`progress_key`), renewed every `BEAT_SECONDS` by a thread: the page reads the stage from there, and a key
that expired says the job is gone.

A job that crashes abandons the swap itself (`swap.carry_out`); one that RQ fails (a timeout, a worker
found dead) is abandoned by `job_failed`; one whose process was killed outright stops renewing its key,
and `release_dead` (run whenever the serving page is drawn or a swap is asked for) abandons its claim
with a reason, so the page says what happened instead of "em andamento" for 15 minutes. The model
answering debtors is never touched by any of these: a swap only switches at its very end.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import redis
from rq import Callback, Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from bot import audit, redis_client
from bot.config import Settings, get_settings
from bot.conversation.sweep_schedule import RESULT_TTL
from bot.db import Database, get_database
from bot.models import DeploymentAction, NluServing, RasaSlot, as_utc, utcnow
from bot.nlu_ops import gate
from bot.nlu_serving import state, swap

log = logging.getLogger(__name__)

QUEUE = "nlu"  # the trainer's queue (bot.nlu_ops.trainer.QUEUE): one worker, one heavy job at a time
SWAP_JOB = "bot.nlu_serving.jobs.swap_job"
FAILED_CALLBACK = "bot.nlu_serving.jobs.job_failed"
# Longer than a load may take (swap.LOAD_TIMEOUT_SECONDS), plus the drain and the warm-up.
JOB_TIMEOUT = int(swap.LOAD_TIMEOUT_SECONDS) + 300
BEAT_SECONDS = 5
PROGRESS_TTL = 30  # a stage key not renewed for this long: the job's process is gone
# RQ marks a job started a moment before it writes its first stage: not "dead" in that moment.
START_GRACE = timedelta(seconds=20)
# A rollback to the model the spare slot runs only switches (no load): a few seconds at most, in the request.
INSTANT_TIMEOUT = 10.0
DEAD_REASON = "A troca parou sem terminar (o processo do worker foi interrompido)"
NOT_QUEUED = "Não foi possível pôr a troca na fila (o Redis não respondeu). Tente de novo."

STAGE_LABELS = {
    "queued": "Na fila do worker de NLU (se um candidato estiver treinando, a troca começa quando ele "
    "terminar).",
    "checking": "Conferindo o arquivo do modelo.",
    "draining": "Aguardando as conversas que ainda usam o Rasa {slot} terminarem.",
    "loading": "Carregando o modelo no Rasa {slot} (pode levar alguns minutos).",
    "waiting": "Esperando o Rasa {slot} confirmar o modelo.",
    "warming": "Aquecendo o modelo no Rasa {slot}.",
    "switching": "Passando as novas mensagens para o Rasa {slot}.",
    "outside": "Troca iniciada fora do console (regua nlu promote ou rollback).",
    "running": "Troca em andamento.",
}


class NotQueued(Exception):
    """The swap could not be put on the queue (Redis did not answer); nothing changed. Message in pt-BR."""


@dataclass(frozen=True)
class Progress:
    """A swap in progress as the console shows it."""

    model: str  # the file name
    action: DeploymentAction | None
    actor: str | None
    since: datetime | None
    stage: str  # a key of STAGE_LABELS
    label: str  # pt-BR


def job_id(token: str) -> str:
    """The RQ job id of the swap claimed with `token` (so the page finds the job from the serving row)."""
    return f"nlu-swap-{token}"


def progress_key(token: str) -> str:
    """The Redis key where the running job keeps its stage."""
    return f"regua:nlu-swap:{token}"


# ---- asking for a swap (the web request) ----------------------------------------------------------------


def request_promote(
    session: Session, database: Database, conn: redis.Redis, model_file: Path, actor: str
) -> state.Claim:
    """Claim the promote of the candidate `model_file` for `actor` and queue it. Raises `gate.GateError`
    (not a candidate, or refused: the same rule as `regua nlu promote`), `state.SwapRefused` (another swap
    holds the state) or `NotQueued`."""
    gate.require_passed(session, model_file.name)
    session.commit()  # the verdict is recorded on the candidate's row
    release_dead(database, conn)
    held = state.claim(database, str(model_file.resolve()), DeploymentAction.PROMOTE, actor)
    return _enqueue(database, conn, held)


def request_rollback(
    settings: Settings, database: Database, conn: redis.Redis, actor: str, model: str | None
) -> swap.Outcome | state.Claim:
    """Serve `model` (a model of the history; None: the one the current model replaced) again for
    `actor`: at once when the spare slot still runs it (nothing to load: the switch takes a second, in
    the request; returns the `swap.Outcome`), else claimed and queued like a promote (returns the
    `state.Claim`). Raises `state.SwapRefused`, `swap.SwapFailed` or `NotQueued`."""
    release_dead(database, conn)
    with database.session() as session:
        target = state.rollback_target(session, model)
        now = state.serving(session)
        instant = now.model_of(now.active_slot.other) == target
    if instant:
        return swap.rollback(
            settings, database, actor, target, instant_only=True, load_timeout=INSTANT_TIMEOUT
        )
    held = state.claim(database, target, DeploymentAction.ROLLBACK, actor)
    return _enqueue(database, conn, held)


def _enqueue(database: Database, conn: redis.Redis, held: state.Claim) -> state.Claim:
    try:
        Queue(QUEUE, connection=conn).enqueue(
            SWAP_JOB,
            held,
            job_id=job_id(held.token),
            job_timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=86400,
            on_failure=Callback(FAILED_CALLBACK),
        )
    except (redis.RedisError, OSError):
        state.abandon(database, held, NOT_QUEUED)
        raise NotQueued(NOT_QUEUED) from None
    with database.session() as session:
        audit.record(
            session,
            held.actor,
            "nlu.swap_requested",
            "nlu_model",
            state.model_name(held.model_file),
            swap=held.action.value,
        )
    return held


# ---- the job (the `nlu` worker) -------------------------------------------------------------------------


def swap_job(held: state.Claim) -> bool:
    """RQ job: carry out the swap `held` claims; True when the model now answers debtors."""
    settings = get_settings()
    job = get_current_job()
    conn = job.connection if job is not None else redis_client.connect(settings)
    return run(settings, get_database(settings.effective_database_url), conn, held) is not None


def run(
    settings: Settings,
    database: Database,
    conn: redis.Redis,
    held: state.Claim,
    *,
    load_timeout: float = swap.LOAD_TIMEOUT_SECONDS,
) -> swap.Outcome | None:
    """Carry out `held`, keeping its stage in Redis; None when it was abandoned (the serving state says
    why) or is no longer held (it waited in the queue so long that another swap took over)."""
    if not state.holds(database, held.token):
        log.warning("swap %s is no longer held; not started", held.token)
        return None
    with _beating(conn, held.token) as report:
        try:
            return swap.carry_out(settings, database, held, load_timeout=load_timeout, report=report)
        except (swap.SwapFailed, state.SwapRefused) as error:
            log.warning("swap %s abandoned: %s", held.token, type(error).__name__)
            return None


def job_failed(job, connection, exc_type, exc_value, traceback) -> None:  # type: ignore[no-untyped-def]
    """RQ's failure callback (a timeout, a worker found dead): release the claim, saying why."""
    held: state.Claim = job.args[0]
    name = type(exc_value).__name__ if exc_value is not None else "desconhecido"
    state.abandon(get_database(get_settings().effective_database_url), held, f"Troca interrompida ({name})")


@contextlib.contextmanager
def _beating(conn: redis.Redis, token: str) -> Iterator[Callable[[str], None]]:
    """Keep the stage key of `token` alive while the block runs; yields the function that sets the stage."""
    key, stage, stop = progress_key(token), ["checking"], threading.Event()

    def write() -> None:
        with contextlib.suppress(redis.RedisError, OSError):  # the stage is for the page, not the swap
            conn.set(key, stage[0], ex=PROGRESS_TTL)

    def report(name: str) -> None:
        stage[0] = name
        write()

    def beat() -> None:
        while not stop.wait(BEAT_SECONDS):
            write()

    write()
    beater = threading.Thread(target=beat, name=f"swap-beat-{token[:8]}", daemon=True)
    beater.start()
    try:
        yield report
    finally:
        stop.set()
        beater.join()
        with contextlib.suppress(redis.RedisError, OSError):
            conn.delete(key)


# ---- what the page shows --------------------------------------------------------------------------------


def release_dead(database: Database, conn: redis.Redis, now: datetime | None = None) -> bool:
    """Abandon the swap in progress if its job is known to be gone (failed, or its stage key expired: the
    worker was killed); True if it did. A swap with no job (from the CLI) is left to `state.claim`'s
    15-minute rule; so is everything when Redis does not answer."""
    with database.session() as session:
        token = state.serving(session).swap_token
    if token is None:
        return False
    try:
        job = Job.fetch(job_id(token), connection=conn)
        status = job.get_status()
        beating = bool(conn.exists(progress_key(token)))
    except NoSuchJobError:
        return False
    except (redis.RedisError, OSError):
        return False
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED) or beating:
        return False
    started = as_utc(job.started_at or job.enqueued_at)
    if status == JobStatus.STARTED and started is not None and started > (now or utcnow()) - START_GRACE:
        return False
    return state.abandon(database, job.args[0], DEAD_REASON)


def progress(serving: NluServing, conn: redis.Redis) -> Progress | None:
    """The swap in progress (None if there is none), with its stage read from its job."""
    if serving.swap_token is None:
        return None
    stage = _stage(conn, serving.swap_token)
    target = serving.active_slot.other if serving.active_slot else RasaSlot.GREEN
    return Progress(
        model=state.model_name(serving.swap_model),
        action=serving.swap_action,
        actor=serving.swap_actor,
        since=serving.swap_started_at,
        stage=stage,
        label=STAGE_LABELS[stage].format(slot=target.value),
    )


def _stage(conn: redis.Redis, token: str) -> str:
    try:
        current = conn.get(progress_key(token))
        if current:
            name = current.decode() if isinstance(current, bytes) else str(current)
            return name if name in STAGE_LABELS else "running"
        job = Job.fetch(job_id(token), connection=conn)
        return "queued" if job.get_status() != JobStatus.STARTED else "running"
    except NoSuchJobError:
        return "outside"
    except (redis.RedisError, OSError):
        return "running"
