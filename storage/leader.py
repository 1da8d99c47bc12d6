"""One scheduler per database: the leader lock (PostgreSQL advisory lock, or a lease row).

Filled in below; the table is declared here so the schema is complete.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class LeaseRow(Base):
    """A named lease: who holds it and until when (SQLite's leader lock)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    holder: Mapped[str] = mapped_column(String)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
