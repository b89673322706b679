"""account_monthly: orders summed per account and month, filled from existing orders

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_monthly",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("order_lines", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_monthly_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_account_monthly")),
        sqlite_with_rowid=False,
    )
    # Existing databases already hold orders: fill the table from them (written here,
    # not imported from the application, so this revision keeps working as the code moves).
    if op.get_bind().dialect.name == "sqlite":
        month = "date(order_date, 'start of month')"
    else:
        month = "CAST(date_trunc('month', order_date) AS DATE)"
    op.execute(
        "INSERT INTO account_monthly (account_id, month, revenue_cents, cost_cents, order_lines) "
        f"SELECT account_id, {month}, sum(revenue_cents), sum(cost_cents), count(*) "
        f"FROM orders GROUP BY account_id, {month}"
    )


def downgrade() -> None:
    op.drop_table("account_monthly")
