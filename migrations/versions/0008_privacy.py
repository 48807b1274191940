"""LGPD: erasure markers on debtors, redaction markers on conversations and messages, hashed opt-outs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_debtors_erased_key"), ["erased_key"], unique=True)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_messages_redacted_at_created_at", ["redacted_at", "created_at"], unique=False
        )

    # An erased person's opt-out keeps a keyed hash of the number (64 hex digits) instead of the number.
    with op.batch_alter_table("opt_out_events", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=16), type_=sa.String(length=64), existing_nullable=False
        )


def downgrade() -> None:
    # Hashed addresses do not fit the old column: they go (the erased person's opt-out with them).
    op.execute("DELETE FROM opt_out_events WHERE length(address) > 16")
    with op.batch_alter_table("opt_out_events", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=64), type_=sa.String(length=16), existing_nullable=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_redacted_at_created_at")
        batch_op.drop_column("redacted_at")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("redacted_at")

    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debtors_erased_key"))
        batch_op.drop_column("erased_key")
        batch_op.drop_column("erased_at")
