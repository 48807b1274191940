"""precomputed collection results: counts per Brasília day and slice, the refreshes that wrote them, and
an index for the handoffs of a conversation

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 02:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = (
    "contacts",
    "messages",
    "delivered",
    "read",
    "replied",
    "opened",
    "pix",
    "line",
    "promised",
    "agreed",
    "paid",
    "opted_out",
    "complained",
    "handed_off",
    "promises_kept",
    "promises_resolved",
    "agreements_broken",
    "agreements_counted",
)


def upgrade() -> None:
    op.create_table(
        "analytics_daily",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("creditor_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("segment", sa.String(length=40), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("recovered_cents", sa.BigInteger(), nullable=False),
        sa.Column("sms_segments", sa.Integer(), nullable=False),
        sa.Column("whatsapp_conversations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_daily")),
    )
    op.create_index("ix_analytics_daily_day_creditor", "analytics_daily", ["day", "creditor_id"])
    op.create_table(
        "analytics_refreshes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_refreshes")),
    )
    op.create_index(op.f("ix_analytics_refreshes_finished_at"), "analytics_refreshes", ["finished_at"])
    # Without it each reminder's handoff lookup read the whole audit log (bench/analytics.py).
    op.create_index("ix_audit_log_entity_type_entity_id", "audit_log", ["entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_entity_type_entity_id", table_name="audit_log")
    op.drop_index(op.f("ix_analytics_refreshes_finished_at"), table_name="analytics_refreshes")
    op.drop_table("analytics_refreshes")
    op.drop_index("ix_analytics_daily_day_creditor", table_name="analytics_daily")
    op.drop_table("analytics_daily")
