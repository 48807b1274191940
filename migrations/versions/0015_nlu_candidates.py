"""candidate NLU models (nlu_models): training status, evaluation, the quality gate's verdict and its
override

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
STATUSES = ("training", "ready", "failed")


def upgrade() -> None:
    op.create_table(
        "nlu_models",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("model_file", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="candidate_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("requested_by_user_id", _BIG_ID, nullable=True),
        sa.Column("requested_via", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("evaluation", _JSON, nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=True),
        sa.Column("gate_reasons", _JSON, nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("overridden_by_user_id", _BIG_ID, nullable=True),
        sa.Column("overridden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_nlu_models_requested_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["overridden_by_user_id"],
            ["users.id"],
            name=op.f("fk_nlu_models_overridden_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_models")),
        sa.UniqueConstraint("model_file", name=op.f("uq_nlu_models_model_file")),
    )
    op.create_index(op.f("ix_nlu_models_status"), "nlu_models", ["status"])
    # At most one candidate trains at a time.
    op.create_index(
        "uq_nlu_models_one_training",
        "nlu_models",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'training'"),
        sqlite_where=sa.text("status = 'training'"),
    )


def downgrade() -> None:
    op.drop_index("uq_nlu_models_one_training", table_name="nlu_models")
    op.drop_index(op.f("ix_nlu_models_status"), table_name="nlu_models")
    op.drop_table("nlu_models")
