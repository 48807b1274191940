"""every prediction recorded (message_predictions: intent, confidence, ranking, entities, model, and the
NLU inbox's flags and verdicts), and the `ops` role

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
OLD_ROLES = ("agent", "supervisor", "admin")
NEW_ROLES = (*OLD_ROLES, "ops")
VERDICTS = ("confirmed", "relabelled", "out_of_scope", "discarded")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "message_predictions",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("message_id", _BIG_ID, nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("ranking", _JSON, nullable=False),
        sa.Column("entities", _JSON, nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=True),
        sa.Column("model_file", sa.String(length=200), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flagged_by_user_id", _BIG_ID, nullable=True),
        sa.Column(
            "verdict",
            sa.Enum(*VERDICTS, name="nlu_verdict", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("label", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_user_id", _BIG_ID, nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_predictions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flagged_by_user_id"],
            ["users.id"],
            name=op.f("fk_message_predictions_flagged_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_user_id"],
            ["users.id"],
            name=op.f("fk_message_predictions_reviewed_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_predictions")),
        sa.UniqueConstraint("message_id", name=op.f("uq_message_predictions_message_id")),
    )
    op.create_index(op.f("ix_message_predictions_intent"), "message_predictions", ["intent"])
    op.create_index(op.f("ix_message_predictions_model_id"), "message_predictions", ["model_id"])
    op.create_index(op.f("ix_message_predictions_verdict"), "message_predictions", ["verdict"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_user_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_user_role"), _in("role", NEW_ROLES))


def downgrade() -> None:
    # An ops person becomes an agent: the closest role that exists before this revision.
    op.execute("UPDATE users SET role = 'agent' WHERE role = 'ops'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_user_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_user_role"), _in("role", OLD_ROLES))
    op.drop_index(op.f("ix_message_predictions_verdict"), table_name="message_predictions")
    op.drop_index(op.f("ix_message_predictions_model_id"), table_name="message_predictions")
    op.drop_index(op.f("ix_message_predictions_intent"), table_name="message_predictions")
    op.drop_table("message_predictions")
