"""entities ops annotate in the NLU inbox (message_predictions.annotations: [{"entity", "value"}] on the
masked text, written to the training data in Rasa's `[value](entity)` syntax)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Nullable, no default: rows decided before this revision simply have no annotations.
    op.add_column("message_predictions", sa.Column("annotations", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("message_predictions", "annotations")
