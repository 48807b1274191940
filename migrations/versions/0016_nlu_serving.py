"""which Rasa slot answers debtors (nlu_serving, one row) and the deployment history (nlu_deployments)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SLOTS = ("blue", "green")
ACTIONS = ("promote", "rollback")


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    op.create_table(
        "nlu_serving",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active_slot", _enum(SLOTS, "rasa_slot"), nullable=False),
        sa.Column("blue_model", sa.String(length=500), nullable=True),
        sa.Column("green_model", sa.String(length=500), nullable=True),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("swap_token", sa.String(length=36), nullable=True),
        sa.Column("swap_model", sa.String(length=500), nullable=True),
        sa.Column("swap_action", _enum(ACTIONS, "nlu_swap_action"), nullable=True),
        sa.Column("swap_actor", sa.String(length=120), nullable=True),
        sa.Column("swap_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_nlu_serving_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_serving")),
    )
    # The one row exists from the start: blue answers, each slot's model is filled in by the slot itself
    # when it starts (`regua rasa-server --slot ...`).
    op.execute("INSERT INTO nlu_serving (id, active_slot, updated_at) VALUES (1, 'blue', CURRENT_TIMESTAMP)")
    op.create_table(
        "nlu_deployments",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("model_file", sa.String(length=500), nullable=False),
        sa.Column("action", _enum(ACTIONS, "nlu_deployment_action"), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("slot", _enum(SLOTS, "nlu_deployment_slot"), nullable=False),
        sa.Column("previous_model", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_deployments")),
    )
    op.create_index(op.f("ix_nlu_deployments_created_at"), "nlu_deployments", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_nlu_deployments_created_at"), table_name="nlu_deployments")
    op.drop_table("nlu_deployments")
    op.drop_table("nlu_serving")
