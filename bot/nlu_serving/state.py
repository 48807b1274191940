"""The serving state (`NluServing`, one row) as a small state machine, and the deployment history.

A swap is claimed with one conditional UPDATE that sets a fencing token; only the holder of the token can
switch traffic or abandon the swap (both are conditional on it too). A claim older than `STALE_CLAIM` (its
promote crashed or was killed) may be taken over, and the old holder then can no longer switch.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import desc, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot import audit
from bot.db import Database
from bot.localtime import local_datetime
from bot.models import DeploymentAction, NluDeployment, NluServing, RasaSlot, utcnow

log = logging.getLogger(__name__)

# A promote that held its claim this long died without abandoning it; another may take over.
STALE_CLAIM = timedelta(minutes=15)
SERVING_ID = 1


class SwapRefused(RuntimeError):
    """The swap cannot start (another is in progress, the model already answers, ...). The message is
    Brazilian Portuguese, shown to ops as is."""


@dataclass(frozen=True)
class Claim:
    """A swap this process holds: the fencing token, the model to serve and the slot to load it into
    (the one not answering debtors), and what that slot and the active one run now."""

    token: str
    model_file: str
    action: DeploymentAction
    actor: str
    target: RasaSlot
    target_model: str | None  # what the target slot runs now (the model itself: no load needed)
    active_model: str | None
    switched_at: datetime | None


def serving(session: Session) -> NluServing:
    """The serving row, created (blue answering, models unknown) if it does not exist yet."""
    row = session.get(NluServing, SERVING_ID)
    if row is None:
        try:
            with session.begin_nested():
                session.add(NluServing(id=SERVING_ID, active_slot=RasaSlot.BLUE))
        except IntegrityError:  # another process created it at the same time
            pass
        row = session.get_one(NluServing, SERVING_ID)
    return row


def claim(
    database: Database, model_file: str, action: DeploymentAction, actor: str, now: datetime | None = None
) -> Claim:
    """Claim the swap for `model_file`; raises `SwapRefused` if another swap holds it or the model
    already answers debtors."""
    now = now or utcnow()
    token = str(uuid.uuid4())
    with database.session() as session:
        current = serving(session)
        if current.model_of(current.active_slot) == model_file:
            raise SwapRefused(f"O modelo {model_name(model_file)} já está respondendo aos devedores.")
        taken = session.execute(
            update(NluServing)
            .where(
                NluServing.id == SERVING_ID,
                or_(NluServing.swap_token.is_(None), NluServing.swap_started_at < now - STALE_CLAIM),
            )
            .values(
                swap_token=token,
                swap_model=model_file,
                swap_action=action,
                swap_actor=actor,
                swap_started_at=now,
            )
            .returning(NluServing.active_slot, NluServing.blue_model, NluServing.green_model)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is None:
            session.refresh(current)
            started = current.swap_started_at
            since = local_datetime(started).strftime("%d/%m/%Y %H:%M") if started else "?"
            raise SwapRefused(
                f"Já há uma troca de modelo em andamento ({model_name(current.swap_model)}, por "
                f"{current.swap_actor}, desde {since}). Aguarde o fim dela."
            )
        active, blue, green = RasaSlot(taken[0]), taken[1], taken[2]
        target = active.other
        return Claim(
            token=token,
            model_file=model_file,
            action=action,
            actor=actor,
            target=target,
            target_model=blue if target is RasaSlot.BLUE else green,
            active_model=blue if active is RasaSlot.BLUE else green,
            switched_at=current.switched_at,
        )


def _held(token: str):  # type: ignore[no-untyped-def]
    return update(NluServing).where(NluServing.id == SERVING_ID, NluServing.swap_token == token)


def _slot_column(slot: RasaSlot) -> str:
    return f"{slot.value}_model"


def mark_loading(database: Database, held: Claim) -> None:
    """The target slot is about to load another model: what it runs is unknown until the load is
    confirmed, so it is no longer offered for an instant rollback."""
    with database.session() as session:
        session.execute(
            _held(held.token)
            .values({_slot_column(held.target): None})
            .execution_options(synchronize_session=False)
        )


def switch(database: Database, held: Claim, now: datetime | None = None) -> NluDeployment:
    """Switch traffic to the target slot, record the deployment and release the claim, in one
    transaction; raises `SwapRefused` if the claim was taken over (the state is then left alone)."""
    now = now or utcnow()
    with database.session() as session:
        switched = session.execute(
            _held(held.token)
            .values(
                {
                    "active_slot": held.target,
                    _slot_column(held.target): held.model_file,
                    "switched_at": now,
                    "swap_token": None,
                    "swap_model": None,
                    "swap_action": None,
                    "swap_actor": None,
                    "swap_started_at": None,
                    "last_error": None,
                    "last_error_at": None,
                }
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if not switched:
            raise SwapRefused("A troca de modelo foi assumida por outra pessoa; nada foi alterado.")
        deployment = NluDeployment(
            model_file=held.model_file,
            action=held.action,
            actor=held.actor,
            slot=held.target,
            previous_model=held.active_model,
            created_at=now,
        )
        session.add(deployment)
        audit.record(
            session,
            held.actor,
            f"nlu.{held.action.value}",
            "nlu_model",
            model_name(held.model_file),
            slot=held.target.value,
            previous=model_name(held.active_model),
        )
        session.flush()
        session.expunge(deployment)
        return deployment


def abandon(database: Database, held: Claim, reason: str, now: datetime | None = None) -> bool:
    """Give the swap up: the active slot stays as it was, the claim is released and the state keeps
    `reason` (Portuguese, shown to ops). False when the claim was no longer held."""
    now = now or utcnow()
    with database.session() as session:
        released = session.execute(
            _held(held.token)
            .values(
                swap_token=None,
                swap_model=None,
                swap_action=None,
                swap_actor=None,
                swap_started_at=None,
                last_error=reason[:500],
                last_error_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if released:
            name = model_name(held.model_file)
            audit.record(session, held.actor, "nlu.swap_abandoned", "nlu_model", name, reason=reason)
        return bool(released)


def holds(database: Database, token: str) -> bool:
    """Whether the swap claimed with `token` still holds the serving state (not finished, abandoned or
    taken over)."""
    with database.session() as session:
        return serving(session).swap_token == token


def record_slot_model(database: Database, slot: RasaSlot, model_file: str) -> None:
    """A slot started serving `model_file` (`regua rasa-server --slot`): record it unless a swap holds
    the state (the swap then records what it loaded)."""
    with database.session() as session:
        serving(session)
        session.execute(
            update(NluServing)
            .where(NluServing.id == SERVING_ID, NluServing.swap_token.is_(None))
            .values({_slot_column(slot): model_file})
            .execution_options(synchronize_session=False)
        )


def slot_model(database: Database, slot: RasaSlot) -> str | None:
    """The model file `slot` should run (None when not known)."""
    with database.session() as session:
        return serving(session).model_of(slot)


def served_model(session: Session) -> str | None:
    """The model file the slot answering debtors runs, as recorded (None: no serving record yet, or the
    active slot's model is unknown). Reads only: never creates the serving row."""
    row = session.get(NluServing, SERVING_ID)
    return row.model_of(row.active_slot) if row is not None else None


def referenced_models(session: Session) -> set[str]:
    """Every model file the serving state or the deployment history names: both slots', a swap's in
    progress, and each deployment's model and the model it replaced (a rollback may serve any of them).
    `bot.rasa.training.ensure_model`'s clean-up must keep these."""
    found: set[str] = set()
    row = session.get(NluServing, SERVING_ID)
    if row is not None:
        found |= {row.blue_model, row.green_model, row.swap_model} - {None}  # type: ignore[arg-type]
    found.update(session.scalars(select(NluDeployment.model_file)))
    found.update(m for m in session.scalars(select(NluDeployment.previous_model)) if m)
    return found


def models_to_keep(database: Database) -> set[str] | None:
    """`referenced_models`, for a clean-up of old model files; None when the database does not answer
    (then nothing may be removed: a slot or a rollback may need any of them)."""
    try:
        with database.session() as session:
            return referenced_models(session)
    except SQLAlchemyError as error:
        log.warning("models in use unknown (%s): old models are kept", type(error).__name__)
        return None


def history(session: Session, limit: int = 50) -> list[NluDeployment]:
    """The latest deployments, newest first."""
    newest_first = (desc(NluDeployment.created_at), desc(NluDeployment.id))
    return list(session.scalars(select(NluDeployment).order_by(*newest_first).limit(limit)))


def rollback_target(session: Session, wanted: str | None = None) -> str:
    """The model a rollback serves: `wanted` (a path or a file name) if it answered debtors before,
    else the model the current one replaced. Raises `SwapRefused` when there is none."""
    deployments = history(session, limit=1000)
    known = [d.model_file for d in deployments] + [d.previous_model for d in deployments if d.previous_model]
    if wanted is None:
        if not deployments or not deployments[0].previous_model:
            raise SwapRefused("Não há modelo anterior no histórico para voltar.")
        return deployments[0].previous_model
    for model in known:
        if wanted in (model, model_name(model)):
            return model
    raise SwapRefused(
        f"O modelo {model_name(wanted)} nunca respondeu aos devedores; use `regua nlu promote`."
    )


def model_name(model_file: str | None) -> str:
    """A model's file name (what ops recognise), or "?"."""
    return model_file.rsplit("/", 1)[-1] if model_file else "?"
