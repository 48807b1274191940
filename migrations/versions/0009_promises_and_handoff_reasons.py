"""promises to pay, the policy's promise horizon, why a conversation waits for a person

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_promises",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("debtor_id", _BIG_ID, nullable=False),
        sa.Column("creditor_id", _BIG_ID, nullable=False),
        sa.Column("conversation_id", _BIG_ID, nullable=True),
        sa.Column(
            "invoice_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "kept", "broken", name="promise_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_payment_promises_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditors.id"],
            name=op.f("fk_payment_promises_creditor_id_creditors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtors.id"],
            name=op.f("fk_payment_promises_debtor_id_debtors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_promises")),
    )
    with op.batch_alter_table("payment_promises", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_promises_debtor_id"), ["debtor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_promises_status"), ["status"], unique=False)

    with op.batch_alter_table("agreement_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_promise_days", sa.Integer(), server_default="10", nullable=False))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoff_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("handoff_reason")

    with op.batch_alter_table("agreement_policies", schema=None) as batch_op:
        batch_op.drop_column("max_promise_days")

    with op.batch_alter_table("payment_promises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_promises_status"))
        batch_op.drop_index(batch_op.f("ix_payment_promises_debtor_id"))
    op.drop_table("payment_promises")
