"""account_plans.canvas_id: the Slack canvas a plan version was published to

`/kam plan ACCOUNT --canvas` publishes the plan as a Slack canvas; later versions of the
same account's plan update that canvas, found through the newest version that has one.
Empty for plans never published.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canvas_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_plans", schema=None) as batch_op:
        batch_op.drop_column("canvas_id")
