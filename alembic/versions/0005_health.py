"""Schema for source health and unattended operation: health, leases, scheduler jobs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

``source_health`` keeps what health adds to ``fetch_state`` (dead sources, 404 streaks,
the adaptive poll interval; see ``storage.health``); ``leases`` holds the scheduler's
leader lease on SQLite (``storage.leader``; PostgreSQL uses an advisory lock);
``apscheduler_jobs`` is APScheduler's job store, so a restart keeps the schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_health",
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("dead_at", UTC_DATETIME, nullable=True),
        sa.Column("dead_reason", sa.Text(), nullable=True),
        sa.Column("dead_url", sa.Text(), nullable=True),
        sa.Column("consecutive_not_found", sa.Integer(), nullable=False),
        sa.Column("poll_interval", sa.Float(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"],
            name=op.f("fk_source_health_source_id_sources"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_health")),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(
        op.f("ix_apscheduler_jobs_next_run_time"), "apscheduler_jobs", ["next_run_time"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_apscheduler_jobs_next_run_time"), table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_table("leases")
    op.drop_table("source_health")
