"""kpi_snapshots: each account's main KPIs per ISO week (KPI history, movers)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_snapshots",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("prior_revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("revenue_growth", sa.Float(), nullable=True),
        sa.Column("gross_margin_cents", sa.BigInteger(), nullable=False),
        sa.Column("profitability", sa.Float(), nullable=True),
        sa.Column("share_of_wallet", sa.Float(), nullable=True),
        sa.Column("nps", sa.Float(), nullable=True),
        sa.Column("nps_responses", sa.Integer(), nullable=False),
        sa.Column("csat", sa.Float(), nullable=True),
        sa.Column("csat_responses", sa.Integer(), nullable=False),
        sa.Column("churn_risk", sa.Integer(), nullable=False),
        sa.Column("churn_signs", sa.String(length=300), nullable=False),
        sa.Column("strategic_value", sa.Float(), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_kpi_snapshots_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("week_start", "account_id", name=op.f("pk_kpi_snapshots")),
    )
    with op.batch_alter_table("kpi_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kpi_snapshots_account_week", ["account_id", "week_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kpi_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_snapshots_account_week")
    op.drop_table("kpi_snapshots")
