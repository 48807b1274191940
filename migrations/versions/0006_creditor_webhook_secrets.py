"""per-creditor payment webhook secrets (current and previous, for rotation)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("creditors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_webhook_secret", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("payment_webhook_secret_previous", sa.String(length=100), nullable=True)
        )
        batch_op.add_column(
            sa.Column("payment_webhook_secret_rotated_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("creditors", schema=None) as batch_op:
        batch_op.drop_column("payment_webhook_secret_rotated_at")
        batch_op.drop_column("payment_webhook_secret_previous")
        batch_op.drop_column("payment_webhook_secret")
