"""Stored story clusters: term statistics, stories, their inverted index, members.

``StoryStore.cluster`` runs the story tier (``pipeline.stories.plan_batch``) over a
batch of articles in one write transaction and writes its plan. The transaction
holds the write lock (SQLite's BEGIN IMMEDIATE; a PostgreSQL advisory lock), so
processes clustering at once take turns and each sees the other's stories.

Tables:

- ``story_terms``: per term, its document frequency and how many stories the index
  lists under it (so a list that grew past twice its cap is trimmed);
- ``story_counts``: the number of documents counted in the frequencies;
- ``stories``: each story's vector (heaviest terms of the sum of its members' unit
  vectors), member count, time bounds and when it was last active;
- ``story_postings``: the inverted index, term -> stories. Its key is (term, end of
  the story's time span, story), a WITHOUT ROWID table on SQLite, so the stories of a
  term active in a window are one contiguous index range: a lookup reads only stories
  that can match, however long the corpus has run (see ``span_keys``);
- ``story_copies``: copy cluster -> story; ``story_members``: document URL -> story.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.stories import BatchPlan, Story, StoryDoc, StorySettings, Window, plan_batch
from storage.cursors import mark_changed
from storage.database import translate_errors, write_engine
from storage.models import Base, Document, JSONType
from storage.rows import chunked, insert_for

logger = logging.getLogger(__name__)

# Any fixed number: the key of the PostgreSQL advisory lock that serialises clustering.
_PG_LOCK_KEY = 0x5354_4F52  # "STOR"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The keys of a story none of whose articles has a date: it matches every window.
UNDATED_FIRST = -(2**62)
UNDATED_LAST = 2**62


def time_key(when: datetime) -> int:
    """``when`` as whole microseconds since 1970: exact, and ordered like the times."""
    return (when - _EPOCH) // _MICROSECOND


def span_keys(first_at: datetime | None, last_at: datetime | None) -> tuple[int, int]:
    """A story's time bounds as posting keys; an undated story spans all time."""
    first = UNDATED_FIRST if first_at is None else time_key(first_at)
    last = UNDATED_LAST if last_at is None else time_key(last_at)
    return first, last


class StoryTermRow(Base):
    """A term's document frequency and the length of its postings list."""

    __tablename__ = "story_terms"

    term: Mapped[str] = mapped_column(String, primary_key=True)
    df: Mapped[int] = mapped_column(Integer, default=0)
    postings: Mapped[int] = mapped_column(Integer, default=0)


class StoryCountRow(Base):
    """One row: the documents counted in ``story_terms`` and an activity clock."""

    __tablename__ = "story_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)


class StoryRow(Base):
    """One story: its term vector, size and time bounds."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vector: Mapped[dict[str, float]] = mapped_column(JSONType)
    members: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime | None]
    last_at: Mapped[datetime | None]
    touched: Mapped[int] = mapped_column(Integer)  # story_counts.documents when last joined


class StoryPostingRow(Base):
    """The inverted index: a story listed under one of its top terms.

    The story's time bounds are copied in as integer keys (``span_keys``) and the end
    one is part of the primary key, so a window is an index range, not a filter.
    """

    __tablename__ = "story_postings"
    # The primary key is the lookup index; a rowid beside it would only add a B-tree.
    __table_args__ = ({"sqlite_with_rowid": False},)

    term: Mapped[str] = mapped_column(String, primary_key=True)
    last_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # No index of its own: a story's postings are deleted by key (``_unlist``).
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    first_key: Mapped[int] = mapped_column(BigInteger)
    touched: Mapped[int] = mapped_column(Integer)


class StoryCopyRow(Base):
    """The story of a copy cluster, so later copies join it directly."""

    __tablename__ = "story_copies"

    copy_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))


class StoryMemberRow(Base):
    """The story of a stored document (by its canonical URL)."""

    __tablename__ = "story_members"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class StorySummary:
    """A story as status pages and the demo show it."""

    id: int
    members: int
    publishers: tuple[str, ...]  # source ids of its documents, sorted
    first_at: datetime | None
    last_at: datetime | None
    title: str | None  # the title of its earliest stored document


class StoryStore:
    """Clusters batches of articles into stories and answers which story a URL is in."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = write_engine(engine)

    def cluster(self, docs: Sequence[StoryDoc], settings: StorySettings) -> dict[str, int]:
        """Put each document in a story, in order; return URL -> story id.

        Documents already in a story keep it (a re-fetch, a re-run of the batch), so
        calling this twice with the same batch changes nothing the second time.
        """
        if not docs:
            return {}
        with translate_errors(self._engine), self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            known = _members(conn, [d.key for d in docs])
            fresh = list({d.key: d for d in docs if d.key not in known}.values())
            index = _ConnIndex(conn)
            plan = plan_batch(fresh, index, settings)
            ids = _write_plan(conn, plan, index, settings)
            # Readers of the corpus get these documents again, now with their story.
            mark_changed(conn, urls=plan.assignments)
        result = {d.key: known[d.key] for d in docs if d.key in known}
        result.update((key, ids.get(ref, ref)) for key, ref in plan.assignments.items())
        return result

    def story_ids(self, urls: Iterable[str]) -> dict[str, int]:
        """The story of each of ``urls`` that has one."""
        with translate_errors(self._engine), self._engine.begin() as conn:
            return _members(conn, list(dict.fromkeys(urls)))

    def story(self, story_id: int) -> Story | None:
        """A story's stored state."""
        with translate_errors(self._engine), self._engine.begin() as conn:
            return _ConnIndex(conn).story(story_id)

    def summaries(self, *, min_members: int = 2, limit: int = 50) -> list[StorySummary]:
        """The largest stories with at least ``min_members`` documents, largest first."""
        with translate_errors(self._engine), self._engine.begin() as conn:
            rows = conn.execute(
                select(StoryRow)
                .where(StoryRow.members >= min_members)
                .order_by(StoryRow.members.desc(), StoryRow.id)
                .limit(limit)
            ).all()
            ids = [r.id for r in rows]
            publishers: dict[int, set[str]] = {i: set() for i in ids}
            titles: dict[int, str | None] = {}
            for chunk in chunked(ids):
                found = conn.execute(
                    select(StoryMemberRow.story_id, Document.source_id, Document.title)
                    .join(Document, Document.url == StoryMemberRow.url)
                    .where(StoryMemberRow.story_id.in_(chunk))
                    .order_by(Document.published_at, Document.id)
                )
                for story_id, source, title in found:
                    publishers[story_id].add(source)
                    titles.setdefault(story_id, title)
        return [
            StorySummary(
                id=r.id,
                members=r.members,
                publishers=tuple(sorted(publishers[r.id])),
                first_at=r.first_at,
                last_at=r.last_at,
                title=titles.get(r.id),
            )
            for r in rows
        ]


class _ConnIndex:
    """``pipeline.stories.StoryIndex`` over one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # Stories read in this transaction: nothing writes them before it ends, and
        # the articles of a batch keep meeting the same few active stories.
        self._read: dict[int, Story] = {}
        self._mark = _placeholder(conn)
        self._decode = _decoders(conn.dialect)

    def frequencies(self, terms: Iterable[str]) -> tuple[int, Mapping[str, int]]:
        wanted = sorted(set(terms))
        df: dict[str, int] = {}
        # A batch asks for thousands of terms: through the driver, as plain strings,
        # since building and binding an expression per chunk cost more than the read.
        for chunk in chunked(wanted):
            marks = ",".join([self._mark] * len(chunk))
            rows = self._conn.exec_driver_sql(
                f"SELECT term, df FROM story_terms WHERE term IN ({marks})",
                tuple(chunk),
            )
            df.update((term, n) for term, n in rows)
        documents = self._conn.scalar(_DOCUMENTS)
        return int(documents or 0), df

    def candidates(
        self,
        terms: Sequence[str],
        window: Window | None,
        per_term: int,
        limit: int,
        min_shared: int = 1,
    ) -> list[Story]:
        if not terms:
            return []
        # No per-term ranking here: _trim keeps every list under twice ``per_term``.
        # One lookup per article: through the driver, since SQLAlchemy's handling of
        # each execution cost more than the indexed read itself.
        marks = ",".join([self._mark] * len(terms))
        params: list[Any] = list(terms)
        windowed = ""
        if window is not None:
            # ``last_key >= start`` is a range of the primary key under each term.
            windowed = f" AND last_key >= {self._mark} AND first_key <= {self._mark}"
            params += [time_key(window.start), time_key(window.end)]
        ids = [
            story_id
            for (story_id,) in self._conn.exec_driver_sql(
                f"SELECT story_id FROM story_postings WHERE term IN ({marks}){windowed} "
                f"GROUP BY story_id HAVING count(*) >= {int(min_shared)} "
                f"ORDER BY count(*) DESC, story_id LIMIT {int(limit)}",
                tuple(params),
            )
        ]
        return self._stories(ids)

    def story(self, story_id: int) -> Story | None:
        found = self._stories([story_id])
        return found[0] if found else None

    def stories_of_copies(self, copy_ids: Iterable[int]) -> Mapping[int, int]:
        wanted = sorted(set(copy_ids))
        found: dict[int, int] = {}
        for chunk in chunked(wanted):
            rows = self._conn.execute(
                select(StoryCopyRow.copy_id, StoryCopyRow.story_id).where(
                    StoryCopyRow.copy_id.in_(chunk)
                )
            )
            found.update((copy_id, story_id) for copy_id, story_id in rows)
        return found

    def _stories(self, ids: Sequence[int]) -> list[Story]:
        missing = [i for i in ids if i not in self._read]
        vector, first_at, last_at = self._decode
        for chunk in chunked(missing):
            marks = ",".join([self._mark] * len(chunk))
            rows = self._conn.exec_driver_sql(
                "SELECT id, vector, members, first_at, last_at FROM stories "
                f"WHERE id IN ({marks}) ORDER BY id",
                tuple(chunk),
            )
            for story_id, vec, members, first, last in rows:
                self._read[story_id] = Story(
                    id=story_id,
                    vector=vector(vec),
                    members=members,
                    first_at=first_at(first),
                    last_at=last_at(last),
                )
        return [self._read[i] for i in ids if i in self._read]


def _decoders(dialect: Dialect) -> tuple[Callable[[Any], Any], ...]:
    """How the columns' types read ``stories.vector``, ``.first_at`` and ``.last_at``
    from the driver's values, for rows read through the driver."""
    columns = StoryRow.__table__.c
    found: list[Callable[[Any], Any]] = []
    for column in (columns.vector, columns.first_at, columns.last_at):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        found.append(process or _same)
    return tuple(found)


def _same(value: Any) -> Any:
    return value


_DOCUMENTS = select(StoryCountRow.documents).where(StoryCountRow.id == 1)


def _placeholder(conn: Connection) -> str:
    """The driver's parameter placeholder (sqlite3: ``?``, psycopg: ``%s``)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _members(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunked(urls):
        rows = conn.execute(
            select(StoryMemberRow.url, StoryMemberRow.story_id).where(StoryMemberRow.url.in_(chunk))
        )
        found.update((url, story_id) for url, story_id in rows)
    return found


def _write_plan(
    conn: Connection, plan: BatchPlan, index: _ConnIndex, settings: StorySettings
) -> dict[int, int]:
    """Write a batch's plan; return the real id of each story the batch created."""
    # The stored state of each story the batch changed, read before it is overwritten:
    # it names the postings to delete (the batch read nearly all of them already).
    stored = [
        story
        for story in map(index.story, sorted(i for i in plan.stories if i > 0))
        if story is not None
    ]
    documents = _add_frequencies(conn, plan)
    ids: dict[int, int] = {}
    new = plan.new_stories
    if new:
        # One statement for all of them; the ids come back in the order given.
        created = conn.execute(
            insert(StoryRow).returning(StoryRow.id, sort_by_parameter_order=True),
            [_story_values(story, documents) for story in new],
        ).scalars()
        ids = dict(zip((story.id for story in new), created, strict=True))
    updated = [s for s in plan.stories.values() if s.id > 0]
    if updated:
        conn.execute(
            update(StoryRow)
            .where(StoryRow.id == bindparam("b_id"))
            .values(
                vector=bindparam("b_vector"),
                members=bindparam("b_members"),
                first_at=bindparam("b_first_at"),
                last_at=bindparam("b_last_at"),
                touched=bindparam("b_touched"),
            ),
            [
                {"b_id": s.id, **{f"b_{k}": v for k, v in _story_values(s, documents).items()}}
                for s in sorted(updated, key=lambda s: s.id)
            ],
        )
    _reindex(conn, plan, ids, stored, documents, settings)
    if plan.copies:
        stmt = insert_for(conn, StoryCopyRow)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=[StoryCopyRow.copy_id]),
            [{"copy_id": c, "story_id": ids.get(s, s)} for c, s in sorted(plan.copies.items())],
        )
    if plan.assignments:
        stmt = insert_for(conn, StoryMemberRow)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=[StoryMemberRow.url]),
            [{"url": u, "story_id": ids.get(s, s)} for u, s in sorted(plan.assignments.items())],
        )
    return ids


def _executemany(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run one statement for many rows through the driver directly.

    The term statistics take thousands of rows per batch, and SQLAlchemy's
    per-row parameter handling would cost more than the database's work. ``{p}``
    in ``sql`` is the driver's placeholder; the SQL itself is the same on SQLite
    and PostgreSQL (both have ON CONFLICT ... DO UPDATE).
    """
    conn.exec_driver_sql(sql.format(p=_placeholder(conn)), list(rows))


def _add_frequencies(conn: Connection, plan: BatchPlan) -> int:
    """Add the batch's document frequencies; return the new document count."""
    if plan.frequencies:
        _executemany(
            conn,
            "INSERT INTO story_terms (term, df, postings) VALUES ({p}, {p}, 0) "
            "ON CONFLICT (term) DO UPDATE SET df = story_terms.df + excluded.df",
            sorted(plan.frequencies.items()),
        )
    stmt = insert_for(conn, StoryCountRow)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[StoryCountRow.id],
            set_={"documents": StoryCountRow.documents + stmt.excluded.documents},
        ),
        {"id": 1, "documents": plan.documents},
    )
    return int(conn.scalar(select(StoryCountRow.documents).where(StoryCountRow.id == 1)) or 0)


def _story_values(story: Story, touched: int) -> dict[str, Any]:
    return {
        "vector": dict(story.vector),
        "members": story.members,
        "first_at": story.first_at,
        "last_at": story.last_at,
        "touched": touched,
    }


def _reindex(
    conn: Connection,
    plan: BatchPlan,
    ids: Mapping[int, int],
    stored: Sequence[Story],
    touched: int,
    settings: StorySettings,
) -> None:
    """Rewrite the postings of every story the batch touched, and trim long lists.

    ``stored`` holds the touched stories' states before the batch: their old postings
    are deleted by key (see ``_unlist``).
    """
    n = settings.index_terms
    removed = _unlist(conn, stored, n)
    rows: list[tuple[str, int, int, int, int]] = []
    added: dict[str, int] = {}
    for story in sorted(plan.stories.values(), key=lambda s: ids.get(s.id, s.id)):
        first, last = span_keys(story.first_at, story.last_at)
        story_id = ids.get(story.id, story.id)
        for term in story.index_terms(n):
            added[term] = added.get(term, 0) + 1
            rows.append((term, last, story_id, first, touched))
    if rows:
        _executemany(
            conn,
            "INSERT INTO story_postings (term, last_key, story_id, first_key, touched) "
            "VALUES ({p}, {p}, {p}, {p}, {p})",
            rows,
        )
    changes = {t: added.get(t, 0) - removed.get(t, 0) for t in set(added) | set(removed)}
    changes = {t: d for t, d in changes.items() if d}
    if changes:
        stmt = insert_for(conn, StoryTermRow)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[StoryTermRow.term],
                set_={"postings": StoryTermRow.postings + stmt.excluded.postings},
            ),
            [{"term": t, "df": 0, "postings": d} for t, d in sorted(changes.items())],
        )
        _trim(conn, [t for t, d in changes.items() if d > 0], settings.postings_per_term)


def _unlist(conn: Connection, stories: Sequence[Story], n: int) -> Counter[str]:
    """Delete the postings of ``stories`` (stored states); count the deleted per term.

    A story's postings are its top ``n`` terms when it was last written, keyed by its
    time span then, and the stored story still holds both, so each deletion is a range
    of the primary key; no index on story_id is kept up to date for it (a trimmed
    posting is simply not found). After ``stories.index_terms`` is lowered, a story's
    postings beyond the new number stay listed until their lists are trimmed.
    """
    removed: Counter[str] = Counter()
    mark = _placeholder(conn)
    for story in stories:
        terms = story.index_terms(n)
        if not terms:
            continue
        _, last = span_keys(story.first_at, story.last_at)
        marks = ",".join([mark] * len(terms))
        removed.update(
            term
            for (term,) in conn.exec_driver_sql(
                f"DELETE FROM story_postings WHERE term IN ({marks}) "
                f"AND last_key = {mark} AND story_id = {mark} RETURNING term",
                (*terms, last, story.id),
            )
        )
    return removed


def _trim(conn: Connection, terms: Sequence[str], cap: int) -> None:
    """Cut postings lists grown past twice ``cap`` back to the ``cap`` most recent.

    Reads only ever look at ``cap`` stories per term, so the rest are dead weight; the
    slack of ``cap`` means a list is trimmed once per ``cap`` additions, not each time.
    """
    long: list[str] = []
    for chunk in chunked(sorted(terms)):
        long += conn.scalars(
            select(StoryTermRow.term).where(
                StoryTermRow.term.in_(chunk), StoryTermRow.postings > 2 * cap
            )
        )
    for term in long:
        # A list is at most a few times ``cap`` long: ranking it here is cheaper than
        # keeping a second index on (term, touched) up to date on every write.
        listed = list(
            conn.execute(
                select(
                    StoryPostingRow.last_key, StoryPostingRow.story_id, StoryPostingRow.touched
                ).where(StoryPostingRow.term == term)
            )
        )
        listed.sort(key=lambda row: (row.touched, row.story_id), reverse=True)
        _executemany(
            conn,
            "DELETE FROM story_postings WHERE term = {p} AND last_key = {p} AND story_id = {p}",
            [(term, row.last_key, row.story_id) for row in listed[cap:]],
        )
        conn.execute(
            update(StoryTermRow)
            .where(StoryTermRow.term == term)
            .values(postings=min(cap, len(listed)))
        )
    if long:
        logger.debug("Trimmed the story postings of %d terms to %d stories", len(long), cap)
