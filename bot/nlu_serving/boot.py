"""What a Rasa slot serves when it starts (`regua rasa-server --slot`): the model the serving state says
it runs, so a slot restarted by the process manager comes back with the model it served, not with the
model of the current training data."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.db import Database
from bot.models import RasaSlot
from bot.nlu_serving import state
from bot.rasa import training

log = logging.getLogger(__name__)


def model_to_serve(settings: Settings, slot: RasaSlot) -> Path:
    """The model file `slot` should start with: the serving state's when known and present, else the
    model of the current training data (then recorded as the slot's). Without a database, the latter."""
    database = Database(settings.effective_database_url)
    try:
        recorded = state.slot_model(database, slot)
        if recorded and Path(recorded).is_file():
            return Path(recorded)
        if recorded:
            log.warning("slot %s: recorded model %s is missing", slot, state.model_name(recorded))
        default = training.model_path()
        if default.is_file():
            state.record_slot_model(database, slot, str(default.resolve()))
        return default
    except SQLAlchemyError as error:
        log.warning("slot %s: serving state unreadable (%s); default model", slot, type(error).__name__)
        return training.model_path()
    finally:
        database.dispose()
