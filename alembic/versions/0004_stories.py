"""Schema for story clusters (term statistics, story term index).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Reserved so that work on several features can add its tables in a fixed order; the
revision is a no-op until its feature fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
