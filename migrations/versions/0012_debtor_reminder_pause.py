"""the régua paused per debtor from the agent console: since when, by whom, and why

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders_paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminders_paused_by_user_id", _BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("reminders_pause_note", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_debtors_reminders_paused_by_user_id_users"),
            "users",
            ["reminders_paused_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_debtors_reminders_paused_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("reminders_pause_note")
        batch_op.drop_column("reminders_paused_by_user_id")
        batch_op.drop_column("reminders_paused_at")
