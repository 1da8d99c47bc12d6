"""Read-only queries for people browsing the corpus: stories with their member documents.

The read API and the status page (``newsingest serve``) list stories newest first,
each with the documents in it. Stories are paged by id, descending: a story's id is
fixed when it is created, so reading on after the last id of a page neither repeats
nor skips a story while new ones are being added (they go to the front).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from storage.copies import with_copies
from storage.database import EngineUser
from storage.models import Document, Source
from storage.rows import chunked
from storage.stories import StoryMemberRow, StoryRow


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMember:
    """One stored document of a story, as a reader sees it in a list."""

    id: int
    url: str
    source: str
    title: str | None
    published_at: datetime | None
    copy_id: int | None  # its copy cluster, once the copy stage has seen it
    is_representative: bool  # it represents its copy cluster


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryView:
    """A story with its member documents (earliest published first)."""

    id: int
    size: int  # documents in the story, counting any left out of ``members``
    publishers: tuple[str, ...]  # source ids of its documents, sorted
    title: str | None  # the title of its earliest published document
    first_at: datetime | None
    last_at: datetime | None
    members: tuple[StoryMember, ...]


class BrowseStore(EngineUser):
    """Stories with their members, and the source ids, for the read API and status page."""

    def stories(
        self,
        *,
        limit: int,
        before: int | None = None,
        min_members: int = 1,
        members: int | None = None,
    ) -> list[StoryView]:
        """Up to ``limit`` stories, newest first, with ids below ``before`` if given.

        Only stories of at least ``min_members`` documents; each lists at most
        ``members`` of its documents (None: all), earliest published first.
        """
        query = (
            select(StoryRow.id, StoryRow.members, StoryRow.first_at, StoryRow.last_at)
            .where(StoryRow.members >= min_members)
            .order_by(StoryRow.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(StoryRow.id < before)
        with self._read() as conn:
            rows = conn.execute(query).all()
            found = _members(conn, [r.id for r in rows], members)
            publishers = _publishers(conn, [r.id for r in rows])
        return [
            StoryView(
                id=r.id,
                size=r.members,
                publishers=publishers.get(r.id, ()),
                title=next((m.title for m in found.get(r.id, ()) if m.title), None),
                first_at=r.first_at,
                last_at=r.last_at,
                members=tuple(found.get(r.id, ())),
            )
            for r in rows
        ]

    def story(self, story_id: int) -> StoryView | None:
        """One story with all its member documents, or None if there is no such story."""
        # The newest story up to and including this id: this one, if it exists.
        found = self.stories(limit=1, before=story_id + 1, min_members=0)
        return found[0] if found and found[0].id == story_id else None

    def has_story(self, story_id: int) -> bool:
        """Whether there is a story with this id."""
        with self._read() as conn:
            return conn.scalar(select(StoryRow.id).where(StoryRow.id == story_id)) is not None

    def source_ids(self) -> list[str]:
        """The ids of every source the database knows, sorted."""
        with self._read() as conn:
            return list(conn.scalars(select(Source.id).order_by(Source.id)))


def _members(
    conn: Connection, story_ids: Sequence[int], per_story: int | None
) -> dict[int, list[StoryMember]]:
    """The ok documents of each story, earliest published first (undated last)."""
    # The rank within each story, so "the first N of every story" is one query.
    rank = (
        func.row_number()
        .over(
            partition_by=StoryMemberRow.story_id,
            order_by=(Document.published_at.is_(None), Document.published_at, Document.id),
        )
        .label("rank")
    )
    found: dict[int, list[StoryMember]] = {}
    for chunk in chunked(story_ids):
        in_stories = (
            select(
                StoryMemberRow.story_id,
                Document.id,
                Document.url,
                Document.source_id,
                Document.title,
                Document.published_at,
                rank,
            )
            .select_from(StoryMemberRow)
            .join(Document, Document.url == StoryMemberRow.url)
            .where(StoryMemberRow.story_id.in_(chunk), Document.status == "ok")
        )
        ranked = with_copies(in_stories).subquery()
        query = select(ranked).order_by(ranked.c.story_id, ranked.c.rank)
        if per_story is not None:
            query = query.where(ranked.c.rank <= per_story)
        for row in conn.execute(query):
            found.setdefault(row.story_id, []).append(
                StoryMember(
                    id=row.id,
                    url=row.url,
                    source=row.source_id,
                    title=row.title,
                    published_at=row.published_at,
                    copy_id=row.copy_id,
                    is_representative=bool(row.is_representative),
                )
            )
    return found


def _publishers(conn: Connection, story_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The distinct source ids of each story's documents, sorted."""
    found: dict[int, set[str]] = {}
    for chunk in chunked(story_ids):
        rows = conn.execute(
            select(StoryMemberRow.story_id, Document.source_id)
            .join(Document, Document.url == StoryMemberRow.url)
            .where(StoryMemberRow.story_id.in_(chunk), Document.status == "ok")
            .distinct()
        )
        for story_id, source in rows:
            found.setdefault(story_id, set()).add(source)
    return {story_id: tuple(sorted(sources)) for story_id, sources in found.items()}
