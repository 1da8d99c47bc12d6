"""Named export cursors.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

``export_cursors`` keeps each consumer's position in the stream of document changes
(``storage.cursors``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "export_cursors",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_export_cursors")),
    )


def downgrade() -> None:
    op.drop_table("export_cursors")
