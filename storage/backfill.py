"""Backfill progress: how far through a URL list ``newsingest backfill`` has got.

One row per list (``key`` identifies the file), so an interrupted backfill resumes
after the last line whose outcome was stored, instead of re-reading millions of lines
it has already handled. The stored-URL check is the second guard: a line counted here
is never fetched again, and a line after it whose URL is stored is skipped too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import EngineUser
from storage.models import Base
from storage.rows import insert_for


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


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillProgress:
    """How far one URL list has been worked through, as stored."""

    key: str  # identifies the list (the backfill uses the file's resolved path)
    source: str  # the source its documents are stored under
    path: str  # the path as given
    lines_done: int  # every line up to this one has its outcome stored
    bad_lines: int  # bad lines among them
    updated_at: datetime  # tz-aware UTC
    finished_at: datetime | None  # set once the end of the list was reached


def _to_progress(row: Any) -> BackfillProgress:
    return BackfillProgress(
        key=row.key,
        source=row.source_id,
        path=row.path,
        lines_done=row.lines_done,
        bad_lines=row.bad_lines,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class BackfillStore(EngineUser):
    """Reads and writes ``backfill_progress`` through one engine (thread-safe)."""

    def progress(self, key: str) -> BackfillProgress | None:
        """The progress recorded for the list ``key``, or None if it was never started."""
        with self._read() as conn:
            row = conn.execute(
                select(BackfillProgressRow).where(BackfillProgressRow.key == key)
            ).one_or_none()
        return _to_progress(row) if row is not None else None

    def all_progress(self) -> list[BackfillProgress]:
        """Every list's progress, most recently updated first."""
        with self._read() as conn:
            rows = conn.execute(
                select(BackfillProgressRow).order_by(BackfillProgressRow.updated_at.desc())
            ).all()
        return [_to_progress(row) for row in rows]

    def record(
        self,
        key: str,
        *,
        source_id: str,
        path: str,
        lines_done: int,
        bad_lines: int,
        finished: bool = False,
        at: datetime | None = None,
    ) -> None:
        """Record that every line of ``key`` up to ``lines_done`` has its outcome stored.

        ``finished`` marks the end of the list as reached; recording more lines later
        (the list grew) clears it again.
        """
        at = at or datetime.now(UTC)
        values = {
            "key": key,
            "source_id": source_id,
            "path": path,
            "lines_done": lines_done,
            "bad_lines": bad_lines,
            "updated_at": at,
            "finished_at": at if finished else None,
        }
        with self._write() as conn:
            stmt = insert_for(conn, BackfillProgressRow).values(values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[BackfillProgressRow.key],
                    set_={k: v for k, v in values.items() if k != "key"},
                )
            )

    def forget(self, key: str) -> bool:
        """Drop the progress of ``key`` (the next backfill reads it from line 1).

        Returns whether there was any.
        """
        with self._write() as conn:
            result = conn.execute(delete(BackfillProgressRow).where(BackfillProgressRow.key == key))
        return bool(result.rowcount)
