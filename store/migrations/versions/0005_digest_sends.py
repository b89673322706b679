"""digest sends: which weekly digest went to whom, so that one is sent once per week

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_sends",
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("week", "slack_user_id", name=op.f("pk_digest_sends")),
    )


def downgrade() -> None:
    op.drop_table("digest_sends")
