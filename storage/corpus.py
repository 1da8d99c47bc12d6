"""The corpus as readers see it: stored documents with their copy and story ids, in change order.

``Corpus.documents`` streams the stored articles (status ``ok``) that match a
``CorpusFilter``, oldest change first, and ``Corpus.position`` turns any document read
into an opaque token to read on after it. A document comes once, and again each time
it changes: a new text, a copy cluster or story assigned after it was written, or
becoming (or ceasing to be) its copy cluster's representative. ``storage.cursors``
explains why no document is ever skipped, however many writers commit at once.

Tokens are urlsafe base64 of a small JSON object; users only pass them back. Named
cursors (``export_cursors``) keep a token under a name, so a consumer need not.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import Select, and_, or_, select

from storage.copies import CopyClusterRow, CopyMemberRow
from storage.cursors import ExportCursorRow, last_change_number
from storage.database import EngineUser
from storage.errors import BadCursorError
from storage.migrate import open_database
from storage.models import Document, Source
from storage.rows import insert_for
from storage.settings import DatabaseSettings
from storage.stories import StoryMemberRow, StoryRow

TOKEN_VERSION = 1
# A select of many columns, whatever they are.
_Rows = Select[*tuple[Any, ...]]
_STREAM_ROWS = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusFilter:
    """Which documents a read returns; the defaults mean "every stored article"."""

    since: datetime | None = None  # inclusive, tz-aware
    until: datetime | None = None  # exclusive
    time_field: Literal["published", "fetched"] = "published"
    sources: tuple[str, ...] = ()  # source ids; empty means any
    languages: tuple[str, ...] = ()  # language codes as stored; empty means any
    story: int | None = None
    representatives_only: bool = False

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name}={value.isoformat()} has no time zone; give one (UTC)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusDocument:
    """One stored article with its copy cluster and story, as readers get it."""

    id: int
    url: str
    final_url: str | None
    source: str
    title: str | None
    authors: tuple[str, ...]
    language: str | None
    published_at: datetime | None
    fetched_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    text: str
    content_hash: str
    copy_id: int | None  # copy cluster; None until the copy stage has seen it
    is_representative: bool  # it represents its copy cluster
    story_id: int | None  # None until the story stage has seen it
    change_seq: int = 0  # its change number (storage.cursors); 0 if built by hand


class _Position(NamedTuple):
    """A place in change order: after (seq, id), or after all of seq when id is None."""

    seq: int
    id: int | None

    def key(self) -> tuple[int, float]:
        return (self.seq, math.inf if self.id is None else self.id)


def encode_position(position: _Position) -> str:
    """The opaque token for ``position``."""
    data = {"v": TOKEN_VERSION, "s": position.seq, "i": position.id}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(token: str) -> _Position:
    """The position in ``token``; ``BadCursorError`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursorError(token) from None
    if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
        raise BadCursorError(token)
    seq, doc = data.get("s"), data.get("i")
    if type(seq) is not int or seq < 0 or not (doc is None or (type(doc) is int and doc >= 0)):
        raise BadCursorError(token)
    return _Position(seq, doc)


def open_corpus(settings: DatabaseSettings) -> Corpus:
    """Connect to the configured database, bring its schema to head, return a ``Corpus``.

    Raises ``DatabaseError``, ``SchemaOutOfDateError`` or ``SchemaTooNewError`` as
    ``storage.store.open_store`` does.
    """
    return Corpus(open_database(settings))


class CorpusRead:
    """One pass over the corpus: iterate it for the documents, then ask its ``position``.

    ``position`` is the token to read on from: after the last document taken, and,
    once the pass has run to its end, after every change it could see, including those
    of documents the filter left out (so a filtered consumer does not scan them again).
    """

    def __init__(
        self, corpus: Corpus, filters: CorpusFilter, after: str | None, limit: int | None
    ) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"limit={limit} is negative")
        self._corpus = corpus
        self._filters = filters
        self._after = after
        self._start = decode_position(after) if after is not None else None
        self._limit = limit
        self._at = self._start
        self._started = False

    @property
    def position(self) -> str | None:
        """The token to read on from (None: nothing read yet, start from the beginning)."""
        return encode_position(self._at) if self._at is not None else None

    def __iter__(self) -> Iterator[CorpusDocument]:
        if self._started:
            raise RuntimeError("a CorpusRead can be iterated only once")
        self._started = True
        return self._documents()

    def _documents(self) -> Iterator[CorpusDocument]:
        taken = 0
        with self._corpus._read() as conn:
            # The bound first: every change up to it is committed and visible to the
            # query below (storage.cursors); later ones wait for the next read.
            bound = last_change_number(conn)
            if self._start is not None and self._start.seq > bound:
                raise BadCursorError(self._after or "", ahead=True)
            if self._limit == 0:
                return
            stmt = _query(self._filters, self._start, bound)
            if self._limit is not None:
                stmt = stmt.limit(self._limit)
            for row in conn.execution_options(yield_per=_STREAM_ROWS).execute(stmt):
                document = _to_document(row)
                self._at = _Position(document.change_seq, document.id)
                taken += 1
                yield document
        if self._limit is None or taken < self._limit:
            end = _Position(bound, None)
            if self._at is None or end.key() > self._at.key():
                self._at = end


class Corpus(EngineUser):
    """Reads the corpus and keeps named cursors, through one engine (thread-safe)."""

    def read(
        self,
        filters: CorpusFilter = CorpusFilter(),
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> CorpusRead:
        """A pass over the documents matching ``filters`` changed after token ``after``.

        ``BadCursorError`` (when iterated, or at once for a malformed token) if
        ``after`` is not a token of this database.
        """
        return CorpusRead(self, filters, after, limit)

    def documents(
        self,
        filters: CorpusFilter = CorpusFilter(),
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> Iterator[CorpusDocument]:
        """The stored articles matching ``filters``, in change order, after ``after``.

        Streamed: rows are fetched a few hundred at a time, and the read transaction
        stays open until the iterator is exhausted or closed, so consume it promptly.
        """
        return iter(self.read(filters, after=after, limit=limit))

    def position(self, document: CorpusDocument) -> str:
        """The token that reads on just after ``document``."""
        return encode_position(_Position(document.change_seq, document.id))

    def document(self, document_id: int) -> CorpusDocument | None:
        """The stored article with this id, or None (unknown, or not an article)."""
        stmt = _select().where(Document.id == document_id, Document.status == "ok")
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return _to_document(row) if row is not None else None

    def cursor(self, name: str) -> str | None:
        """The position kept under cursor ``name`` (None: no such cursor yet)."""
        with self._read() as conn:
            return conn.scalar(select(ExportCursorRow.position).where(ExportCursorRow.name == name))

    def move_cursor(self, name: str, position: str) -> None:
        """Keep ``position`` (a token) under cursor ``name``, creating the cursor if new."""
        decode_position(position)  # refuse to store what a later read would refuse
        now = datetime.now(UTC)
        with self._write() as conn:
            stmt = insert_for(conn, ExportCursorRow).values(
                name=name, position=position, updated_at=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[ExportCursorRow.name],
                    set_={"position": stmt.excluded.position, "updated_at": now},
                )
            )

    def sources(self) -> tuple[str, ...]:
        """The ids of the sources this database knows, sorted."""
        with self._read() as conn:
            return tuple(conn.scalars(select(Source.id).order_by(Source.id)))

    def story_exists(self, story_id: int) -> bool:
        """Whether this database has a story with this id."""
        with self._read() as conn:
            return conn.scalar(select(StoryRow.id).where(StoryRow.id == story_id)) is not None

    def cursors(self) -> dict[str, str | None]:
        """Every named cursor and its position."""
        with self._read() as conn:
            rows = conn.execute(select(ExportCursorRow.name, ExportCursorRow.position))
            return {name: position for name, position in rows}


def _select() -> _Rows:
    """Documents with their copy cluster, representative flag and story."""
    return (
        select(
            Document.id,
            Document.url,
            Document.final_url,
            Document.source_id,
            Document.title,
            Document.authors,
            Document.language,
            Document.published_at,
            Document.fetched_at,
            Document.first_seen_at,
            Document.updated_at,
            Document.text,
            Document.content_hash,
            Document.change_seq,
            CopyMemberRow.cluster_id.label("copy_id"),
            (CopyClusterRow.representative_id == Document.id).label("is_representative"),
            StoryMemberRow.story_id,
        )
        .outerjoin(CopyMemberRow, CopyMemberRow.document_id == Document.id)
        .outerjoin(CopyClusterRow, CopyClusterRow.id == CopyMemberRow.cluster_id)
        .outerjoin(StoryMemberRow, StoryMemberRow.url == Document.url)
    )


def _query(filters: CorpusFilter, after: _Position | None, bound: int) -> _Rows:
    """The documents of one read, in change order."""
    stmt = _select().where(Document.status == "ok", Document.change_seq <= bound)
    if after is not None:
        if after.id is None:
            stmt = stmt.where(Document.change_seq > after.seq)
        else:
            stmt = stmt.where(
                or_(
                    Document.change_seq > after.seq,
                    and_(Document.change_seq == after.seq, Document.id > after.id),
                )
            )
    column = Document.published_at if filters.time_field == "published" else Document.fetched_at
    if filters.since is not None:
        stmt = stmt.where(column >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(column < filters.until)
    if filters.sources:
        stmt = stmt.where(Document.source_id.in_(filters.sources))
    if filters.languages:
        stmt = stmt.where(Document.language.in_(filters.languages))
    if filters.story is not None:
        stmt = stmt.where(StoryMemberRow.story_id == filters.story)
    if filters.representatives_only:
        stmt = stmt.where(CopyClusterRow.representative_id == Document.id)
    return stmt.order_by(Document.change_seq, Document.id)


def _to_document(row: Any) -> CorpusDocument:
    return CorpusDocument(
        id=row.id,
        url=row.url,
        final_url=row.final_url,
        source=row.source_id,
        title=row.title,
        authors=tuple(row.authors or ()),
        language=row.language,
        published_at=row.published_at,
        fetched_at=row.fetched_at,
        first_seen_at=row.first_seen_at,
        updated_at=row.updated_at,
        # The check constraint ok_has_text guarantees both for status 'ok'.
        text=row.text or "",
        content_hash=row.content_hash or "",
        copy_id=row.copy_id,
        is_representative=bool(row.is_representative),
        story_id=row.story_id,
        change_seq=row.change_seq,
    )
