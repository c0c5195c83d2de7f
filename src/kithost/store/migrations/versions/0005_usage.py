"""usage per run and rate-limit refusals, for the admin console's Overview (issue 17)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_token_seconds", sa.Double(), nullable=True))
        batch_op.create_index("ix_runs_created", ["created_at"], unique=False)
    with op.batch_alter_table("thread_items", schema=None) as batch_op:
        batch_op.create_index("ix_thread_items_type_created", ["type", "created_at"], unique=False)
    op.create_table(
        "run_usage",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_usage_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "model", name=op.f("pk_run_usage")),
    )
    op.create_table(
        "rate_limit_refusals",
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("limit_name", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "minute", "limit_name", "workflow_id", name=op.f("pk_rate_limit_refusals")
        ),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_refusals")
    op.drop_table("run_usage")
    with op.batch_alter_table("thread_items", schema=None) as batch_op:
        batch_op.drop_index("ix_thread_items_type_created")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_created")
        batch_op.drop_column("first_token_seconds")
