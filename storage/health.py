"""Source health in the database: dead sources, 404 streaks and adaptive poll intervals.

Table ``source_health``, one row per source that ever had something to remember:

* ``dead_at`` / ``dead_reason`` / ``dead_url``: the source was declared dead (a 410
  Gone, or ``dead_after_not_found`` 404s in a row) while its URL was ``dead_url``. A
  dead source is not polled until it is revived: by ``newsingest revive SOURCE`` or by
  configuring a different URL for it (:meth:`HealthStore.revive_changed`).
* ``consecutive_not_found``: the current streak of 404 answers to polls.
* ``poll_interval``: the adaptive interval in seconds (None: the configured one).

Consecutive failures, last success and last error live in ``fetch_state`` (written by
``Store.record_poll``); this table holds only what health adds to them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Float, ForeignKey, Integer, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import EngineUser
from storage.models import Base, FetchStateRow
from storage.rows import insert_for

logger = logging.getLogger(__name__)


class SourceHealthRow(Base):
    """What health adds to a source's fetch state (see the module docstring)."""

    __tablename__ = "source_health"

    source_id: Mapped[str] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    dead_at: Mapped[datetime | None]
    dead_reason: Mapped[str | None] = mapped_column(Text)
    dead_url: Mapped[str | None] = mapped_column(Text)
    consecutive_not_found: Mapped[int] = mapped_column(Integer, default=0)
    poll_interval: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """A source's health beyond its fetch state; the defaults mean "nothing to report"."""

    source: str
    dead_at: datetime | None = None  # tz-aware UTC; None while the source is alive
    dead_reason: str | None = None  # e.g. "http_410", "http_404 x3"
    dead_url: str | None = None  # the URL that was dead
    consecutive_not_found: int = 0
    poll_interval: float | None = None  # adaptive interval, seconds

    @property
    def dead(self) -> bool:
        return self.dead_at is not None


def _to_health(row: Any) -> SourceHealth:
    return SourceHealth(
        source=row.source_id,
        dead_at=row.dead_at,
        dead_reason=row.dead_reason,
        dead_url=row.dead_url,
        consecutive_not_found=row.consecutive_not_found,
        poll_interval=row.poll_interval,
    )


class HealthStore(EngineUser):
    """Reads and writes ``source_health`` through one engine (thread-safe)."""

    def health(self, source_id: str) -> SourceHealth:
        """The health of ``source_id`` (the defaults if nothing was ever recorded)."""
        with self._read() as conn:
            row = conn.execute(
                select(SourceHealthRow).where(SourceHealthRow.source_id == source_id)
            ).one_or_none()
        return _to_health(row) if row is not None else SourceHealth(source=source_id)

    def all_health(self) -> dict[str, SourceHealth]:
        """Every recorded source's health, by source id."""
        with self._read() as conn:
            rows = conn.execute(select(SourceHealthRow)).all()
        return {row.source_id: _to_health(row) for row in rows}

    def record_poll_outcome(
        self,
        source_id: str,
        *,
        url: str | None,
        reason: str | None,
        at: datetime,
        dead_after_not_found: int,
    ) -> SourceHealth:
        """Update health after one poll: ``reason`` None (success) or its failure reason.

        ``http_410`` declares the source dead at once; ``http_404`` lengthens the 404
        streak, and ``dead_after_not_found`` of them in a row declare it dead. Anything
        else ends the streak. Returns the health as stored.
        """
        with self._write() as conn:
            current = self._locked(conn, source_id)
            streak = current.consecutive_not_found + 1 if reason == "http_404" else 0
            changes: dict[str, Any] = {"consecutive_not_found": streak, "updated_at": at}
            if not current.dead:
                if reason == "http_410":
                    changes |= {"dead_at": at, "dead_reason": "http_410", "dead_url": url}
                elif reason == "http_404" and streak >= dead_after_not_found:
                    changes |= {
                        "dead_at": at,
                        "dead_reason": f"http_404 x{streak}",
                        "dead_url": url,
                    }
            conn.execute(
                update(SourceHealthRow)
                .where(SourceHealthRow.source_id == source_id)
                .values(changes)
            )
            row = conn.execute(
                select(SourceHealthRow).where(SourceHealthRow.source_id == source_id)
            ).one()
        health = _to_health(row)
        if health.dead and not current.dead:
            logger.warning(
                "source %s is dead (%s from %s): it is no longer polled; revive it with "
                "'newsingest revive %s' or by configuring a new url",
                source_id,
                health.dead_reason,
                url,
                source_id,
            )
        return health

    def set_poll_interval(self, source_id: str, seconds: float | None, *, at: datetime) -> None:
        """Remember the adaptive poll interval of ``source_id`` (None: the configured one)."""
        with self._write() as conn:
            self._locked(conn, source_id)
            conn.execute(
                update(SourceHealthRow)
                .where(SourceHealthRow.source_id == source_id)
                .values(poll_interval=seconds, updated_at=at)
            )

    def revive(self, source_id: str, *, at: datetime | None = None) -> bool:
        """Bring ``source_id`` back: alive, no 404 streak, no back-off. True if it was dead.

        The back-off is reset too (``fetch_state.consecutive_failures``), so the
        scheduler polls the source at its next slot instead of hours later.
        """
        at = at or datetime.now(UTC)
        with self._write() as conn:
            current = self._locked(conn, source_id)
            conn.execute(
                update(SourceHealthRow)
                .where(SourceHealthRow.source_id == source_id)
                .values(
                    dead_at=None,
                    dead_reason=None,
                    dead_url=None,
                    consecutive_not_found=0,
                    poll_interval=None,
                    updated_at=at,
                )
            )
            conn.execute(
                update(FetchStateRow)
                .where(FetchStateRow.source_id == source_id)
                .values(consecutive_failures=0)
            )
        if current.dead:
            logger.info("source %s revived (was dead: %s)", source_id, current.dead_reason)
        return current.dead

    def revive_changed(self, urls: Mapping[str, str | None]) -> list[str]:
        """Revive the dead sources whose configured URL is no longer the dead one.

        ``urls`` maps source ids to their configured URL. Returns the revived ids.
        """
        dead = [h for h in self.all_health().values() if h.dead]
        revived = [h.source for h in dead if h.source in urls and urls[h.source] != h.dead_url]
        for source_id in revived:
            logger.info("source %s has a new url in the config: reviving it", source_id)
            self.revive(source_id)
        return revived

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _locked(conn: Connection, source_id: str) -> SourceHealth:
        """The current health of ``source_id``, its row created if missing and locked."""
        conn.execute(
            insert_for(conn, SourceHealthRow)
            .values(source_id=source_id, consecutive_not_found=0, updated_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=[SourceHealthRow.source_id])
        )
        row = conn.execute(
            select(SourceHealthRow).where(SourceHealthRow.source_id == source_id).with_for_update()
        ).one()
        return _to_health(row)
