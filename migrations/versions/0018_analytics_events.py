"""collection analytics: copy events of the payment page, the debtor's segment, an SMS's segments

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PAGE_EVENTS = ("pix_copied", "line_copied")


def upgrade() -> None:
    op.create_table(
        "payment_page_events",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("link_id", _BIG_ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*PAGE_EVENTS, name="page_event", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["payment_links.id"],
            name=op.f("fk_payment_page_events_link_id_payment_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_page_events")),
    )
    op.create_index(op.f("ix_payment_page_events_link_id"), "payment_page_events", ["link_id"])
    with op.batch_alter_table("debtors") as batch:
        batch.add_column(sa.Column("segment", sa.String(length=40), nullable=True))
        batch.create_index(batch.f("ix_debtors_segment"), ["segment"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("segments", sa.Integer(), nullable=True))
    # The metrics' question: which reminders went out in a period?
    op.create_index("ix_reminder_outbox_sent_at", "reminder_outbox", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_reminder_outbox_sent_at", table_name="reminder_outbox")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("segments")
    with op.batch_alter_table("debtors") as batch:
        batch.drop_index(batch.f("ix_debtors_segment"))
        batch.drop_column("segment")
    op.drop_index(op.f("ix_payment_page_events_link_id"), table_name="payment_page_events")
    op.drop_table("payment_page_events")
