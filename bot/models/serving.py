"""Which Rasa model answers debtors (issue 17 §6): the serving state of the two Rasa slots and the history
of deployments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from bot.models.enums import DeploymentAction, RasaSlot


class NluServing(Base):
    """The single row (id 1) saying which slot answers debtors, the model each slot runs, and the swap in
    progress, if any: claimed by one promote at a time with a fencing token (`swap_token`), so a second
    promote is refused and a promote whose claim was taken over cannot flip traffic.

    A slot's model is NULL when it is not known (a load was abandoned half way: whatever the slot runs is
    not offered for rollback until a load succeeds)."""

    __tablename__ = "nlu_serving"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active_slot: Mapped[RasaSlot] = mapped_column(str_enum(RasaSlot, "rasa_slot"), default=RasaSlot.BLUE)
    blue_model: Mapped[str | None] = mapped_column(String(500))
    green_model: Mapped[str | None] = mapped_column(String(500))
    # When traffic last switched slots: the slot that stopped answering is not reloaded before in-flight
    # turns on it can have finished (bot.nlu_serving.swap.DRAIN).
    switched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    swap_token: Mapped[str | None] = mapped_column(String(36))
    swap_model: Mapped[str | None] = mapped_column(String(500))
    swap_action: Mapped[DeploymentAction | None] = mapped_column(
        str_enum(DeploymentAction, "nlu_swap_action")
    )
    swap_actor: Mapped[str | None] = mapped_column(String(120))
    swap_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last swap that was abandoned, and why (the active slot was left as it was).
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def model_of(self, slot: RasaSlot) -> str | None:
        """The model file `slot` runs (None when unknown)."""
        return self.blue_model if slot is RasaSlot.BLUE else self.green_model


class NluDeployment(Base):
    """One model put in front of debtors: which file, promoted or rolled back to, by whom, when, in which
    slot, and the model it replaced."""

    __tablename__ = "nlu_deployments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_file: Mapped[str] = mapped_column(String(500))
    action: Mapped[DeploymentAction] = mapped_column(str_enum(DeploymentAction, "nlu_deployment_action"))
    actor: Mapped[str] = mapped_column(String(120))
    slot: Mapped[RasaSlot] = mapped_column(str_enum(RasaSlot, "nlu_deployment_slot"))
    previous_model: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<NluDeployment {self.action} {self.model_file} by {self.actor}>"
