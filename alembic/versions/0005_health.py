"""Schema for source health and unattended operation (back-off, dead sources, locks).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Reserved so that work on several features can add its tables in a fixed order; the
revision is a no-op until its feature fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
