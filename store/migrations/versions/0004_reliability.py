"""reliability: replies under way, per-channel pacing and per-user rate buckets

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_pending",
        sa.Column("pending_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("reply_ts", sa.String(length=32), nullable=True),
        sa.Column("reply_kind", sa.String(length=16), nullable=True),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_slack_pending")),
    )
    with op.batch_alter_table("slack_pending", schema=None) as batch_op:
        batch_op.create_index("ix_slack_pending_thread", ["channel", "thread_ts"], unique=False)
        batch_op.create_index("ix_slack_pending_reply", ["channel", "reply_ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_slack_pending_owner"), ["owner"], unique=False)
    op.create_table(
        "slack_channel_slots",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_slack_channel_slots")),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_table("slack_channel_slots")
    with op.batch_alter_table("slack_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_pending_owner"))
        batch_op.drop_index("ix_slack_pending_reply")
        batch_op.drop_index("ix_slack_pending_thread")
    op.drop_table("slack_pending")
