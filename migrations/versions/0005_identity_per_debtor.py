"""identity per debtor: verification with expiry and a time-decaying wrong-answer count

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verified_phone", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("verification_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("verification_failed_at", sa.DateTime(timezone=True), nullable=True))
    # A conversation's old verification is dropped, not carried over: it never expired and was not tied
    # to the number's current owner, so every debtor answers the CPF question once more.
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("verification_failures")
        batch_op.drop_column("verified_at")


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("verification_failures", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_column("verification_failed_at")
        batch_op.drop_column("verification_failures")
        batch_op.drop_column("verified_phone")
        batch_op.drop_column("verified_at")
