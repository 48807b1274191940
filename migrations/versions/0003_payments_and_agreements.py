"""payments and agreements: payment links and views, payments, agent cases, renegotiation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:08:07.168537
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agreement_policies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creditor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("max_instalments", sa.Integer(), nullable=False),
        sa.Column("min_instalment_cents", sa.BigInteger(), nullable=False),
        sa.Column("monthly_interest_bps", sa.Integer(), nullable=False),
        sa.Column("cash_discount_bps", sa.Integer(), nullable=False),
        sa.Column("min_down_payment_bps", sa.Integer(), nullable=False),
        sa.Column("first_due_days", sa.Integer(), nullable=False),
        sa.Column("break_after_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cash_discount_bps BETWEEN 0 AND 9000", name=op.f("ck_agreement_policies_cash_discount_range")
        ),
        sa.CheckConstraint(
            "max_instalments BETWEEN 1 AND 60", name=op.f("ck_agreement_policies_max_instalments_range")
        ),
        sa.CheckConstraint(
            "min_down_payment_bps BETWEEN 0 AND 10000", name=op.f("ck_agreement_policies_down_payment_range")
        ),
        sa.CheckConstraint(
            "min_instalment_cents > 0", name=op.f("ck_agreement_policies_min_instalment_positive")
        ),
        sa.CheckConstraint(
            "monthly_interest_bps BETWEEN 0 AND 1000", name=op.f("ck_agreement_policies_interest_range")
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditors.id"],
            name=op.f("fk_agreement_policies_creditor_id_creditors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_policies")),
        sa.UniqueConstraint("creditor_id", name=op.f("uq_agreement_policies_creditor_id")),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creditor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("debtor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "completed",
                "broken",
                "cancelled",
                name="agreement_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("debt_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("interest_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditors.id"],
            name=op.f("fk_agreements_creditor_id_creditors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_agreements_debtor_id_debtors"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agreements_creditor_id"), ["creditor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreements_debtor_id"), ["debtor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreements_status"), ["status"], unique=False)

    op.create_table(
        "agreement_invoices",
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_invoices_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_agreement_invoices_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "invoice_id", name=op.f("pk_agreement_invoices")),
    )
    op.create_table(
        "agreement_offers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creditor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("debtor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "chosen",
                "accepted",
                "declined",
                "expired",
                name="offer_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "invoice_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("chosen", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_offers_agreement_id_agreements"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_agreement_offers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditors.id"],
            name=op.f("fk_agreement_offers_creditor_id_creditors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtors.id"],
            name=op.f("fk_agreement_offers_debtor_id_debtors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_offers")),
    )
    with op.batch_alter_table("agreement_offers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_offers_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "instalments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agreement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "paid",
                "cancelled",
                name="instalment_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("boleto_line", sa.String(length=48), nullable=True),
        sa.Column("pix_code", sa.Text(), nullable=True),
        sa.Column("payment_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_instalments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_instalments_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalments")),
        sa.UniqueConstraint("agreement_id", "number", name=op.f("uq_instalments_agreement_id_number")),
    )
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instalments_agreement_id"), ["agreement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_instalments_due_date"), ["due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_instalments_status"), ["status"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("payment_claim", "dispute", name="case_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "resolved", name="case_status", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("debtor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_cases_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"], ["debtors.id"], name=op.f("fk_cases_debtor_id_debtors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_cases_invoice_id_invoices"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_cases_message_id_messages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_debtor_id"), ["debtor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_status"), ["status"], unique=False)

    op.create_table(
        "payment_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("instalment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instalment_id"],
            ["instalments.id"],
            name=op.f("fk_payment_links_instalment_id_instalments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_payment_links_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_links")),
        sa.UniqueConstraint("token", name=op.f("uq_payment_links_token")),
    )
    with op.batch_alter_table("payment_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_links_instalment_id"), ["instalment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_links_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("creditor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("instalment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creditor_id"],
            ["creditors.id"],
            name=op.f("fk_payments_creditor_id_creditors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["instalment_id"],
            ["instalments.id"],
            name=op.f("fk_payments_instalment_id_instalments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("provider", "external_id", name=op.f("uq_payments_provider_external_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_creditor_id"), ["creditor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payments_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "payment_link_views",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("link_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["payment_links.id"],
            name=op.f("fk_payment_link_views_link_id_payment_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_link_views")),
    )
    with op.batch_alter_table("payment_link_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_link_views_link_id"), ["link_id"], unique=False)

    with op.batch_alter_table("creditors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pix_key", sa.String(length=77), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("boleto_bank_code", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("boleto_agreement", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("fine_bps", sa.Integer(), server_default="200", nullable=False))
        batch_op.add_column(
            sa.Column("monthly_interest_bps", sa.Integer(), server_default="100", nullable=False)
        )
        batch_op.add_column(sa.Column("claim_pause_days", sa.Integer(), server_default="5", nullable=False))

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collection_paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pause_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
        batch_op.drop_column("collection_paused_until")

    with op.batch_alter_table("creditors", schema=None) as batch_op:
        batch_op.drop_column("claim_pause_days")
        batch_op.drop_column("monthly_interest_bps")
        batch_op.drop_column("fine_bps")
        batch_op.drop_column("boleto_agreement")
        batch_op.drop_column("boleto_bank_code")
        batch_op.drop_column("city")
        batch_op.drop_column("pix_key")

    with op.batch_alter_table("payment_link_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_link_views_link_id"))

    op.drop_table("payment_link_views")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_payments_creditor_id"))

    op.drop_table("payments")
    with op.batch_alter_table("payment_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_links_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_payment_links_instalment_id"))

    op.drop_table("payment_links")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_status"))
        batch_op.drop_index(batch_op.f("ix_cases_kind"))
        batch_op.drop_index(batch_op.f("ix_cases_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_cases_debtor_id"))

    op.drop_table("cases")
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instalments_status"))
        batch_op.drop_index(batch_op.f("ix_instalments_due_date"))
        batch_op.drop_index(batch_op.f("ix_instalments_agreement_id"))

    op.drop_table("instalments")
    with op.batch_alter_table("agreement_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_offers_conversation_id"))

    op.drop_table("agreement_offers")
    op.drop_table("agreement_invoices")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_status"))
        batch_op.drop_index(batch_op.f("ix_agreements_debtor_id"))
        batch_op.drop_index(batch_op.f("ix_agreements_creditor_id"))

    op.drop_table("agreements")
    op.drop_table("agreement_policies")
