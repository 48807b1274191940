"""inbound conversations: processing state, retries, leases, identity checks, handoff

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:32:03.460343
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATUSES = ("received", "stored", "accepted", "queued", "sending", "sent", "delivered", "read",
                "undelivered", "failed")  # fmt: skip
NEW_STATUSES = ("received", "pending", *OLD_STATUSES[1:])
PROCESSING = ("pending", "done", "for_agent", "ignored")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("our_address", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("verification_asked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("verification_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("held_message_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("outage_notice_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handoff_requested_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_reply_to_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("processing", sa.String(length=9), nullable=True))
        batch_op.add_column(sa.Column("processing_note", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_processing"), ["processing"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_in_reply_to_id_messages"),
            "messages",
            ["in_reply_to_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(op.f("ck_messages_processing"), _in("processing", PROCESSING))
        # Outbound messages are saved as `pending` before they are handed to the provider.
        batch_op.drop_constraint(op.f("ck_messages_message_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_messages_message_status"), _in("status", NEW_STATUSES))
    # Finding the next message to process (or to retry) for a conversation.
    op.create_index(
        op.f("ix_messages_conversation_id_processing"), "messages", ["conversation_id", "processing"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_conversation_id_processing"), table_name="messages")
    op.execute("UPDATE messages SET status = 'failed' WHERE status = 'pending'")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_messages_message_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_messages_message_status"), _in("status", OLD_STATUSES))
        batch_op.drop_constraint(op.f("ck_messages_processing"), type_="check")
        batch_op.drop_constraint(op.f("fk_messages_in_reply_to_id_messages"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_messages_processing"))
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("processed_at")
        batch_op.drop_column("processing_note")
        batch_op.drop_column("processing")
        batch_op.drop_column("in_reply_to_id")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("handoff_requested_at")
        batch_op.drop_column("outage_notice_at")
        batch_op.drop_column("held_message_id")
        batch_op.drop_column("verification_failures")
        batch_op.drop_column("verification_asked_at")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("our_address")
