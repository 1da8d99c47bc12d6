"""Backfill progress: how far through a URL list ``newsingest backfill`` has got.

One row per list (``key`` identifies the file), so an interrupted backfill resumes
after the last line whose outcome was stored, instead of re-reading millions of lines
it has already handled. The stored-URL check is the second guard: a line counted here
is never fetched again, and a line after it whose URL is stored is skipped too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class BackfillProgressRow(Base):
    """How far one URL list has been worked through."""

    __tablename__ = "backfill_progress"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    source_id: Mapped[str] = mapped_column(String)
    path: Mapped[str] = mapped_column(Text)  # as given, for people reading the table
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    bad_lines: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
