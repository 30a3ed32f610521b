"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("user", sa.String(length=128), nullable=True),
        sa.Column("job", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_log")),
    )
    with op.batch_alter_table("activity_log", schema=None) as batch_op:
        batch_op.create_index("ix_activity_log_job_timestamp", ["job", "timestamp"], unique=False)
        batch_op.create_index("ix_activity_log_run_id", ["run_id"], unique=False)
        batch_op.create_index(
            "ix_activity_log_status_timestamp", ["status", "timestamp"], unique=False
        )
        batch_op.create_index("ix_activity_log_timestamp_id", ["timestamp", "id"], unique=False)
        batch_op.create_index("ix_activity_log_type_timestamp", ["type", "timestamp"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("records_processed", sa.Integer(), nullable=False),
        sa.Column("records_created", sa.Integer(), nullable=False),
        sa.Column("records_updated", sa.Integer(), nullable=False),
        sa.Column("records_failed", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("client_run_id", sa.String(length=128), nullable=True),
        sa.Column("user", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_job_client_run_id", ["job", "client_run_id"], unique=True)
        batch_op.create_index("ix_runs_job_queued_at", ["job", "queued_at"], unique=False)
        batch_op.create_index(
            "ix_runs_job_status_finished_at", ["job", "status", "finished_at"], unique=False
        )
        batch_op.create_index("ix_runs_queued_at", ["queued_at"], unique=False)
        batch_op.create_index("ix_runs_status", ["status"], unique=False)

    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "task_status",
        sa.Column("task_name", sa.String(length=64), nullable=False),
        sa.Column("last_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("task_name", name=op.f("pk_task_status")),
    )


def downgrade() -> None:
    op.drop_table("task_status")
    op.drop_table("settings")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status")
        batch_op.drop_index("ix_runs_queued_at")
        batch_op.drop_index("ix_runs_job_status_finished_at")
        batch_op.drop_index("ix_runs_job_queued_at")
        batch_op.drop_index("ix_runs_job_client_run_id")

    op.drop_table("runs")
    with op.batch_alter_table("activity_log", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_log_type_timestamp")
        batch_op.drop_index("ix_activity_log_timestamp_id")
        batch_op.drop_index("ix_activity_log_status_timestamp")
        batch_op.drop_index("ix_activity_log_run_id")
        batch_op.drop_index("ix_activity_log_job_timestamp")

    op.drop_table("activity_log")
