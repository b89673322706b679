"""currencies: account currency, monthly FX rates, amounts kept in the account's currency too

Existing amounts were all in one currency, the reporting currency: each new
`*_local_cents` column of a source table starts empty, which means "the same as
`*_cents`" (not converted), and the monthly aggregates are rebuilt from the orders
with both sums.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> the money columns that gain a `*_local_cents` twin (NULL: same as `*_cents`)
AMOUNTS = {
    "orders": ("revenue", "cost"),
    "cost_to_serve": ("amount",),
    "opportunities": ("amount",),
    "contracts": ("annual_value",),
}


def _month() -> str:
    if op.get_bind().dialect.name == "sqlite":
        return "date(o.order_date, 'start of month')"
    return "CAST(date_trunc('month', o.order_date) AS DATE)"


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=14, scale=8), nullable=False),
        sa.PrimaryKeyConstraint("currency", "month", name=op.f("pk_fx_rates")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wallet_estimate_local_cents", sa.BigInteger()))
        batch_op.add_column(sa.Column("currency", sa.String(length=3)))
    for table, amounts in AMOUNTS.items():
        for amount in amounts:
            op.add_column(table, sa.Column(f"{amount}_local_cents", sa.BigInteger()))
    _rebuild_aggregates()


def _rebuild_aggregates() -> None:
    """Recreate both monthly aggregates with the local columns, summed from the orders
    (derived data; recreating keeps account_monthly WITHOUT ROWID on SQLite)."""
    op.drop_table("account_monthly")
    with op.batch_alter_table("order_monthly", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_monthly_month"))
    op.drop_table("order_monthly")
    op.create_table(
        "order_monthly",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("product_line", sa.String(length=100), nullable=False),
        _money("revenue_cents"),
        _money("cost_cents"),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("order_lines", sa.Integer(), nullable=False),
        _money("revenue_local_cents"),
        _money("cost_local_cents"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_order_monthly_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "month", "product_line", name=op.f("pk_order_monthly")
        ),
    )
    with op.batch_alter_table("order_monthly", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_monthly_month"), ["month"], unique=False)
    op.create_table(
        "account_monthly",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        _money("revenue_cents"),
        _money("cost_cents"),
        sa.Column("order_lines", sa.Integer(), nullable=False),
        _money("revenue_local_cents"),
        _money("cost_local_cents"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_monthly_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_account_monthly")),
        sqlite_with_rowid=False,
    )
    # Written here, not imported from the application, so the revision keeps working as
    # the code moves.
    month = _month()
    sums = (
        "sum(o.revenue_cents), sum(o.cost_cents), sum(o.quantity), count(*), "
        "sum(coalesce(o.revenue_local_cents, o.revenue_cents)), "
        "sum(coalesce(o.cost_local_cents, o.cost_cents))"
    )
    op.execute(
        "INSERT INTO order_monthly (account_id, month, product_line, revenue_cents, cost_cents, "
        "quantity, order_lines, revenue_local_cents, cost_local_cents) "
        f"SELECT o.account_id, {month}, p.product_line, {sums} "
        "FROM orders o JOIN products p ON p.product_id = o.product_id "
        f"GROUP BY o.account_id, {month}, p.product_line"
    )
    op.execute(
        "INSERT INTO account_monthly (account_id, month, revenue_cents, cost_cents, order_lines, "
        "revenue_local_cents, cost_local_cents) "
        "SELECT account_id, month, sum(revenue_cents), sum(cost_cents), sum(order_lines), "
        "sum(revenue_local_cents), sum(cost_local_cents) FROM order_monthly "
        "GROUP BY account_id, month"
    )


def downgrade() -> None:
    for table, amounts in AMOUNTS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for amount in amounts:
                batch_op.drop_column(f"{amount}_local_cents")
    for table in ("order_monthly", "account_monthly"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("revenue_local_cents")
            batch_op.drop_column("cost_local_cents")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("currency")
        batch_op.drop_column("wallet_estimate_local_cents")
    op.drop_table("fx_rates")
