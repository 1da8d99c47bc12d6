"""Named export cursors: where each consumer of the corpus stopped reading.

``newsingest export --cursor NAME`` reads the documents changed after the cursor's
position, then moves the cursor past them, so each consumer gets each document once,
and again after it changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class ExportCursorRow(Base):
    """One consumer's position in the stream of document changes (an opaque token)."""

    __tablename__ = "export_cursors"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
