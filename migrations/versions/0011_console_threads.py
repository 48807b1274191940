"""the console's threads: who sent an agent's message, its form nonce, agents' internal notes, and when
the owner last acted on a conversation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_by_user_id", _BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("client_nonce", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_sent_by_user_id_users"),
            "users",
            ["sent_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_messages_client_nonce"), ["client_nonce"])
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_activity_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "conversation_notes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("conversation_id", _BIG_ID, nullable=False),
        sa.Column("author_user_id", _BIG_ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_conversation_notes_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
    )
    op.create_index(
        op.f("ix_conversation_notes_conversation_id"), "conversation_notes", ["conversation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_notes_conversation_id"), table_name="conversation_notes")
    op.drop_table("conversation_notes")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("agent_activity_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_client_nonce"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_messages_sent_by_user_id_users"), type_="foreignkey")
        batch_op.drop_column("client_nonce")
        batch_op.drop_column("sent_by_user_id")
