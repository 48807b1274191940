"""payment mismatch cases: new case kinds, the payment and agreement of a case, agreements on hold

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = ("payment_claim", "dispute")
_NEW_KINDS = (
    *_OLD_KINDS,
    "partial_payment",
    "payment_on_agreement",
    "payment_on_cancelled",
    "duplicate_payment",
)


def _retype_kind(batch_op: object, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    """The kind is a VARCHAR with a CHECK listing its values: replace the CHECK, resize the column."""
    batch_op.drop_constraint(op.f("ck_cases_case_kind"), type_="check")  # type: ignore[attr-defined]
    batch_op.alter_column(  # type: ignore[attr-defined]
        "kind",
        existing_type=sa.String(length=max(map(len, old))),
        type_=sa.String(length=max(map(len, new))),
        existing_nullable=False,
    )
    batch_op.create_check_constraint("case_kind", sa.column("kind").in_(new))  # type: ignore[attr-defined]


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        _retype_kind(batch_op, _OLD_KINDS, _NEW_KINDS)
        batch_op.add_column(
            sa.Column("payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_payment_id_payments"),
            "payments",
            ["payment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_agreement_id_agreements"),
            "agreements",
            ["agreement_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_cases_payment_id"), ["payment_id"])
        batch_op.create_index(batch_op.f("ix_cases_agreement_id"), ["agreement_id"], unique=False)

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")

    op.execute(sa.text("DELETE FROM cases WHERE kind NOT IN ('payment_claim', 'dispute')"))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_agreement_id"))
        batch_op.drop_constraint(batch_op.f("uq_cases_payment_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_cases_agreement_id_agreements"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_payment_id_payments"), type_="foreignkey")
        batch_op.drop_column("agreement_id")
        batch_op.drop_column("payment_id")
        _retype_kind(batch_op, _NEW_KINDS, _OLD_KINDS)
