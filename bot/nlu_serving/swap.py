"""Promote and roll back: put a model in front of debtors without dropping or repeating a message.

`promote(model)`: claim the swap (`state.claim`: one at a time), check the file is a readable model
archive, load it into the slot NOT answering debtors (`PUT /model`), wait until that slot reports the
model, warm it with a few `/model/parse` calls, then switch traffic in one transaction (`state.switch`).
The slot that answered before keeps its model: rolling back to it needs no load at all. Any failure
abandons the swap (`state.abandon`): the active slot is never touched, and the state says why.

Why no message is lost or answered twice: the engine asks `routing.ActiveSlotRoute` for the slot per
turn; a turn that started on the old slot finishes there (it still runs its model), new turns go to the
new one. Which message is answered, and once, is the engine's business (its leases and the conditional
"pending → done" update in `bot.conversation.rasa_turn`), whichever slot answered it.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.db import Database
from bot.models import DeploymentAction, RasaSlot, as_utc, utcnow
from bot.nlu_serving import routing, state
from bot.rasa.client import RasaClient, RasaUnavailable

# How long the idle slot may take to load a model and report it: ~30 s on an idle 2-core machine, over
# 3 minutes on a busy one (it answers no debtor meanwhile, so waiting long costs nothing).
LOAD_TIMEOUT_SECONDS = 600.0
# A few parses make the new model run its whole pipeline once before a debtor's message does.
WARM_TEXTS = ("oi", "quero pagar minha conta", "já paguei", "quero falar com um atendente", "parar")


# The stages of a swap, as `carry_out` reports them (the console shows them while a swap runs).
STAGES = ("checking", "draining", "loading", "waiting", "warming", "switching")


class SwapFailed(RuntimeError):
    """The swap was abandoned; the model answering debtors did not change. Message in Portuguese."""


@dataclass(frozen=True)
class Outcome:
    """A finished swap: the model now answering, the slot, and whether it had to be loaded."""

    model_file: str
    slot: RasaSlot
    action: DeploymentAction
    loaded: bool
    seconds: float


def drain_seconds(settings: Settings) -> float:
    """How long after a switch the slot that stopped answering may still have turns in flight: every
    process's route is at most `ROUTE_TTL` old, and a turn lasts at most the Rasa timeout."""
    return routing.ROUTE_TTL + settings.rasa_timeout_seconds + 1.0


def check_archive(path: Path) -> None:
    """Raise `SwapFailed` unless `path` is a complete Rasa model archive (read to the end, so a truncated
    file fails here rather than in Rasa)."""
    if not path.is_file():
        raise SwapFailed(f"Arquivo de modelo não encontrado: {path.name}")
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = [member.name for member in archive]
    except (tarfile.TarError, OSError, EOFError) as error:
        raise SwapFailed(f"Arquivo de modelo ilegível ({type(error).__name__}): {path.name}") from None
    if not any(name.endswith("metadata.json") for name in names):
        raise SwapFailed(f"{path.name} não é um modelo do Rasa (sem metadata.json)")


def promote(
    settings: Settings,
    database: Database,
    model_file: Path,
    actor: str,
    action: DeploymentAction = DeploymentAction.PROMOTE,
    *,
    load_timeout: float = LOAD_TIMEOUT_SECONDS,
) -> Outcome:
    """Serve `model_file` to debtors; raises `state.SwapRefused` (nothing started) or `SwapFailed`
    (abandoned; the active slot unchanged)."""
    held = state.claim(database, str(model_file.resolve()), action, actor)
    return carry_out(settings, database, held, load_timeout=load_timeout)


def carry_out(
    settings: Settings,
    database: Database,
    held: state.Claim,
    *,
    load_timeout: float = LOAD_TIMEOUT_SECONDS,
    report: Callable[[str], None] = lambda stage: None,
) -> Outcome:
    """Carry out the swap `held` claims (`promote`, or the console's background job, which claims in the
    web request so that a second click is refused at once); `report` hears each stage (`STAGES`). Raises
    `SwapFailed` (abandoned; the active slot unchanged) or `state.SwapRefused` (taken over)."""
    started = time.monotonic()
    path = Path(held.model_file)
    client = routing.slot_client(settings, held.target)
    try:
        loaded = held.target_model != held.model_file
        if loaded:
            report("checking")
            check_archive(path)
            report("draining")
            _wait_for_drain(settings, held)
            state.mark_loading(database, held)
            report("loading")
            try:
                client.load_model(str(path), timeout=load_timeout)
            except RasaUnavailable as error:
                raise SwapFailed(f"O Rasa {held.target.value} não carregou o modelo: {error}") from None
        report("waiting")
        _wait_serving(client, held.target, path.name, started + load_timeout)
        report("warming")
        _warm(client, held.target)
        report("switching")
        state.switch(database, held)
        # Return once every process routes turns to the new slot (routes are at most ROUTE_TTL old), so
        # the caller's next message is read by the model it just chose.
        time.sleep(routing.ROUTE_TTL)
    except SwapFailed as failure:
        state.abandon(database, held, str(failure))
        raise
    except BaseException as error:  # interrupted (Ctrl+C, a crash): the next promote must not wait
        state.abandon(database, held, f"Troca interrompida ({type(error).__name__})")
        raise
    return Outcome(str(path), held.target, held.action, loaded, time.monotonic() - started)


def rollback(
    settings: Settings,
    database: Database,
    actor: str,
    model: str | None = None,
    *,
    instant_only: bool = False,
    load_timeout: float = LOAD_TIMEOUT_SECONDS,
) -> Outcome:
    """Serve an earlier model again: `model` (a path or file name from the history) or, by default, the
    one the current model replaced (instant when the idle slot still runs it). With `instant_only` (the
    console, inside a web request), refuse a rollback that would have to load a model."""
    with database.session() as session:
        target = state.rollback_target(session, model)
        now = state.serving(session)
        if instant_only and now.model_of(now.active_slot.other) != target:
            raise state.SwapRefused(
                f"{state.model_name(target)} não está carregado no Rasa reserva: use "
                f"`regua nlu rollback {state.model_name(target)}`."
            )
    return promote(
        settings, database, Path(target), actor, DeploymentAction.ROLLBACK, load_timeout=load_timeout
    )


def _wait_for_drain(settings: Settings, held: state.Claim) -> None:
    """Do not reload the target slot while turns routed to it before the last switch may be running."""
    if held.switched_at is None:
        return
    left = drain_seconds(settings) - (utcnow() - as_utc(held.switched_at)).total_seconds()  # type: ignore[operator]
    if left > 0:
        time.sleep(left)


def _wait_serving(client: RasaClient, slot: RasaSlot, model_name: str, deadline: float) -> None:
    """Wait until the slot reports `model_name` loaded; `SwapFailed` at the deadline."""
    reported = None
    while True:
        try:
            reported = client.status().get("model_file")
        except RasaUnavailable:
            reported = None
        if reported == model_name:
            return
        if time.monotonic() >= deadline:
            now = f"serve {reported}" if reported else "não responde"
            raise SwapFailed(f"O Rasa {slot.value} não ficou pronto com {model_name} a tempo ({now})")
        time.sleep(0.5)


def _warm(client: RasaClient, slot: RasaSlot) -> None:
    for text in WARM_TEXTS:
        try:
            client.parse(text)
        except RasaUnavailable as error:
            raise SwapFailed(f"O Rasa {slot.value} falhou no aquecimento: {error}") from None
