"""the console's indexes: the queue walks the conversations handed over to people in request order, and
the alerts find a conversation's messages since a moment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HANDED_OVER = sa.text("state IN ('waiting_agent', 'with_agent')")


def upgrade() -> None:
    op.create_index(
        "ix_conversations_handed_over",
        "conversations",
        ["handoff_requested_at", "id", "state", "assigned_user_id", "handoff_reason"],
        unique=False,
        postgresql_where=_HANDED_OVER,
        sqlite_where=_HANDED_OVER,
    )
    op.create_index(
        "ix_messages_conversation_id_created_at", "messages", ["conversation_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_conversation_id_created_at", table_name="messages")
    op.drop_index("ix_conversations_handed_over", table_name="conversations")
