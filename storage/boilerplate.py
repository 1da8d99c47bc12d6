"""Learned boilerplate in the database: per-host paragraph counts and their documents.

Tables:

* ``boilerplate_hosts``: one row per host, with how many of its documents are counted
  (for ``min_share``).
* ``boilerplate_paragraphs``: (host, paragraph hash) -> distinct documents containing
  it; a sample of its text once two documents have it; ``known_at`` once it crossed
  the thresholds and the documents holding it were re-cleaned (from then on it stays
  known and is no longer counted).
* ``boilerplate_occurrences``: which documents contain which paragraph, so the
  documents stored before a paragraph became known can be found and re-cleaned, and
  each document's content key: copies of one story (a host filing a story under two
  sections) share it and count as one document, so a story's own paragraphs are not
  mistaken for the template's.
* ``boilerplate_documents``: which host and raw text each document was counted
  under, so a re-fetch counts once and an update replaces its paragraphs.

A paragraph's count is recomputed from its occurrences in the batch's transaction,
so a re-run, a re-fetch or an update never counts a document twice.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    distinct,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.boilerplate import BoilerplateSettings, Paragraph
from storage.cursors import mark_changed
from storage.database import retry_aborted, translate_errors, write_engine
from storage.models import Base, Document
from storage.records import StoredDocument
from storage.rows import chunked, insert_for, to_document

logger = logging.getLogger(__name__)

T = TypeVar("T")



class BoilerplateHost(Base):
    """A host whose documents are counted."""

    __tablename__ = "boilerplate_hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String, unique=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)


class BoilerplateParagraph(Base):
    """A paragraph (by hash) of one host, and in how many distinct documents it is."""

    __tablename__ = "boilerplate_paragraphs"
    __table_args__ = (UniqueConstraint("host_id", "hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("boilerplate_hosts.id", ondelete="CASCADE"))
    hash: Mapped[int] = mapped_column(BigInteger)
    documents: Mapped[int] = mapped_column(Integer, default=0)
    # Kept only from the second document on: most paragraphs are seen once, and
    # storing their text would copy the corpus.
    text: Mapped[str | None] = mapped_column(Text)
    known_at: Mapped[datetime | None]


class BoilerplateOccurrence(Base):
    """One document containing one counted paragraph."""

    __tablename__ = "boilerplate_occurrences"
    __table_args__ = (Index("ix_boilerplate_occurrences_document_id", "document_id"),)

    paragraph_id: Mapped[int] = mapped_column(
        ForeignKey("boilerplate_paragraphs.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    content_key: Mapped[int] = mapped_column(BigInteger)  # see pipeline.boilerplate


class BoilerplateDocument(Base):
    """Under which host and raw text a document's paragraphs are counted."""

    __tablename__ = "boilerplate_documents"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    host_id: Mapped[int] = mapped_column(ForeignKey("boilerplate_hosts.id", ondelete="CASCADE"))
    raw_hash: Mapped[str] = mapped_column(String)


@dataclass(frozen=True, slots=True, kw_only=True)
class CountedText:
    """The paragraphs of one stored document's raw text, to be counted for its host."""

    url: str  # canonical URL of the stored document
    host: str  # see pipeline.boilerplate.host_key
    raw_hash: str  # content hash of the raw text: the same hash again counts nothing
    content_key: int  # copies of one story share it (pipeline.boilerplate.content_key)
    paragraphs: Sequence[Paragraph]


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnedParagraph:
    """A paragraph known as boilerplate of a host."""

    id: int
    host: str
    hash: int
    documents: int  # distinct documents of the host containing it (copies count once)
    text: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextChange:
    """A re-cleaned text for a stored document, written only if it is still as read."""

    document_id: int
    expected_hash: str  # the content_hash the re-cleaning started from
    text: str
    content_hash: str
    authors: tuple[str, ...] | None = None  # None: leave the stored authors alone


class BoilerplateStore:
    """Counts paragraphs per host and answers which ones are known boilerplate."""

    def __init__(self, engine: Engine, settings: BoilerplateSettings) -> None:
        self._engine = engine
        self._writer = write_engine(engine)
        self._settings = settings

    # -- the KnownParagraphs protocol --------------------------------------------------

    def known_paragraphs(self, host: str, hashes: Collection[int]) -> set[int]:
        """Of ``hashes``, those counted often enough on ``host`` to be boilerplate."""
        return {p.hash for p in self.learned(host, hashes)}

    def learned(self, host: str, hashes: Collection[int]) -> list[LearnedParagraph]:
        """The paragraphs among ``hashes`` that are known boilerplate on ``host``."""
        found: list[LearnedParagraph] = []
        wanted = sorted(set(hashes))
        with translate_errors(self._engine), self._engine.begin() as conn:
            for chunk in chunked(wanted):
                stmt = self._known_select().where(
                    BoilerplateHost.host == host, BoilerplateParagraph.hash.in_(chunk)
                )
                found += [
                    LearnedParagraph(
                        id=r.id, host=host, hash=r.hash, documents=r.documents, text=r.text
                    )
                    for r in conn.execute(stmt)
                ]
        return found

    # -- counting ----------------------------------------------------------------------

    def count(self, texts: Sequence[CountedText]) -> list[LearnedParagraph]:
        """Count the paragraphs of stored documents; return the newly known ones.

        A document already counted with the same raw hash is skipped; one counted
        with another raw text has its paragraphs replaced. "Newly known" means past
        the thresholds and not yet marked by ``apply``; the caller re-cleans the
        documents containing them and marks them there, so a crash in between only
        means they are reported again next time.
        """
        latest = {t.url: t for t in texts}
        if not latest:
            return []
        return self._retrying(lambda: self._count_once(latest))

    def _count_once(self, latest: dict[str, CountedText]) -> list[LearnedParagraph]:
        with translate_errors(self._engine), self._writer.begin() as conn:
            doc_ids = _document_ids(conn, list(latest))
            todo = {doc_ids[url]: t for url, t in latest.items() if url in doc_ids}
            prior = _prior_counts(conn, sorted(todo))
            todo = {
                d: t
                for d, t in todo.items()
                if d not in prior or prior[d][1] != t.raw_hash or prior[d][2] != t.host
            }
            if not todo:
                return []
            host_ids = _host_ids(conn, {t.host for t in todo.values()})
            host_deltas = self._count_hosts(conn, todo, prior, host_ids)
            para_ids, settled = _paragraph_ids(conn, todo.values(), host_ids)
            # Known paragraphs need no more evidence: not counting them keeps a footer
            # that is on every page of a host out of the occurrences table.
            rows = {
                (para_ids[(t.host, p.hash)], d, t.content_key)
                for d, t in todo.items()
                for p in t.paragraphs
                if para_ids[(t.host, p.hash)] not in settled
            }
            updated = sorted(d for d in todo if d in prior)
            touched = _occurrence_paragraphs(conn, updated) | {p for p, _, _ in rows}
            # Locked before their occurrences change, so that a concurrent batch sharing
            # a paragraph waits and then counts this one's rows too (PostgreSQL).
            _lock_paragraphs(conn, sorted(touched))
            _delete_occurrences(conn, updated)  # an update replaces them as a whole
            _insert_occurrences(conn, sorted(rows))
            _recount(conn, sorted(touched))
            _apply_host_deltas(conn, host_deltas)
            self._keep_samples(conn, todo.values(), para_ids, touched)
            return self._newly_known(conn, sorted(touched))

    def _count_hosts(
        self,
        conn: Connection,
        todo: dict[int, CountedText],
        prior: dict[int, tuple[int, str, str]],
        host_ids: dict[str, int],
    ) -> Counter[int]:
        """Record each document's host and raw hash; return the host count changes."""
        deltas: Counter[int] = Counter()
        rows = []
        for doc_id, t in sorted(todo.items()):
            host_id = host_ids[t.host]
            if doc_id not in prior:
                deltas[host_id] += 1
            elif prior[doc_id][0] != host_id:
                deltas[prior[doc_id][0]] -= 1
                deltas[host_id] += 1
            rows.append({"document_id": doc_id, "host_id": host_id, "raw_hash": t.raw_hash})
        stmt = insert_for(conn, BoilerplateDocument)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[BoilerplateDocument.document_id],
                set_={"host_id": stmt.excluded.host_id, "raw_hash": stmt.excluded.raw_hash},
            ),
            rows,
        )
        return deltas

    def _keep_samples(
        self,
        conn: Connection,
        texts: Iterable[CountedText],
        para_ids: dict[tuple[str, int], int],
        grown: set[int],
    ) -> None:
        """Store the text of paragraphs that just reached a second document."""
        wanting: set[int] = set()
        for chunk in chunked(sorted(grown)):
            wanting.update(
                conn.scalars(
                    select(BoilerplateParagraph.id).where(
                        BoilerplateParagraph.id.in_(chunk),
                        BoilerplateParagraph.text.is_(None),
                        BoilerplateParagraph.documents >= 2,
                    )
                )
            )
        samples: dict[int, str] = {}
        for t in texts:
            for p in t.paragraphs:
                pid = para_ids[(t.host, p.hash)]
                if pid in wanting:
                    samples.setdefault(pid, p.text)
        rows = [{"b_id": pid, "b_text": samples[pid]} for pid in sorted(samples)]
        if rows:
            conn.execute(
                update(BoilerplateParagraph)
                .where(
                    BoilerplateParagraph.id == bindparam("b_id"),
                    BoilerplateParagraph.text.is_(None),
                    BoilerplateParagraph.documents >= 2,
                )
                .values(text=bindparam("b_text")),
                rows,
            )

    def _newly_known(self, conn: Connection, candidates: list[int]) -> list[LearnedParagraph]:
        found: list[LearnedParagraph] = []
        for chunk in chunked(candidates):
            stmt = (
                self._known_select()
                .add_columns(BoilerplateHost.host)
                .where(BoilerplateParagraph.id.in_(chunk), BoilerplateParagraph.known_at.is_(None))
            )
            found += [
                LearnedParagraph(
                    id=r.id, host=r.host, hash=r.hash, documents=r.documents, text=r.text
                )
                for r in conn.execute(stmt)
            ]
        return found

    def _known_select(self) -> Select[int, int, int, str | None]:
        """Paragraph rows past the thresholds, joined to their host."""
        s = self._settings
        return (
            select(
                BoilerplateParagraph.id,
                BoilerplateParagraph.hash,
                BoilerplateParagraph.documents,
                BoilerplateParagraph.text,
            )
            .join(BoilerplateHost, BoilerplateHost.id == BoilerplateParagraph.host_id)
            .where(
                # Once known, always known: the host's share of it may shrink as the
                # host grows, but its documents were cleaned of it already.
                or_(
                    BoilerplateParagraph.known_at.is_not(None),
                    and_(
                        BoilerplateParagraph.documents >= s.min_documents,
                        BoilerplateParagraph.documents >= s.min_share * BoilerplateHost.documents,
                    ),
                )
            )
        )

    # -- the documents to re-clean -----------------------------------------------------

    def documents_containing(self, paragraph_ids: Collection[int]) -> list[StoredDocument]:
        """The stored ok documents that contain any of the paragraphs, by id."""
        ids: set[int] = set()
        with translate_errors(self._engine), self._engine.begin() as conn:
            for chunk in chunked(sorted(set(paragraph_ids))):
                ids.update(
                    conn.scalars(
                        select(BoilerplateOccurrence.document_id).where(
                            BoilerplateOccurrence.paragraph_id.in_(chunk)
                        )
                    )
                )
            return _documents_by_id(conn, sorted(ids))

    def documents_page(
        self, *, source_id: str | None, after_id: int, limit: int
    ) -> list[StoredDocument]:
        """Up to ``limit`` stored ok documents with ids above ``after_id``, by id.

        Pages by id rather than one streamed query, so no read transaction stays open
        while the caller writes.
        """
        stmt = (
            select(Document)
            .where(Document.status == "ok", Document.id > after_id)
            .order_by(Document.id)
            .limit(limit)
        )
        if source_id is not None:
            stmt = stmt.where(Document.source_id == source_id)
        with translate_errors(self._engine), self._engine.begin() as conn:
            return [to_document(row) for row in conn.execute(stmt)]

    def apply(self, changes: Sequence[TextChange], *, mark_known: Collection[int] = ()) -> int:
        """Write re-cleaned texts and mark paragraphs as handled, in one transaction.

        A change is skipped when the document's content_hash is no longer the one it
        was computed from (a newer fetch won). Returns how many documents changed.
        """
        return self._retrying(lambda: self._apply_once(changes, mark_known))

    def _apply_once(self, changes: Sequence[TextChange], mark_known: Collection[int]) -> int:
        now = datetime.now(UTC)
        changed = 0
        rewritten: list[int] = []
        with translate_errors(self._engine), self._writer.begin() as conn:
            for change in sorted(changes, key=lambda c: c.document_id):
                values: dict[str, object] = {
                    "text": change.text,
                    "content_hash": change.content_hash,
                    "updated_at": now,
                }
                if change.authors is not None:
                    values["authors"] = list(change.authors)
                result = conn.execute(
                    update(Document)
                    .where(
                        Document.id == change.document_id,
                        Document.status == "ok",
                        Document.content_hash == change.expected_hash,
                    )
                    .values(**values)
                )
                changed += result.rowcount
                if result.rowcount:
                    rewritten.append(change.document_id)
            for chunk in chunked(sorted(set(mark_known))):
                conn.execute(
                    update(BoilerplateParagraph)
                    .where(
                        BoilerplateParagraph.id.in_(chunk), BoilerplateParagraph.known_at.is_(None)
                    )
                    .values(known_at=now)
                )
            # Readers of the corpus get the new texts (last: see storage.cursors).
            mark_changed(conn, ids=rewritten)
        return changed

    # -- helpers -----------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a write transaction again when PostgreSQL aborted it for a deadlock."""
        return retry_aborted(attempt, what="boilerplate write")


def _document_ids(conn: Connection, urls: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunked(sorted(urls)):
        rows = conn.execute(
            select(Document.url, Document.id).where(
                Document.url.in_(chunk), Document.status == "ok"
            )
        )
        ids.update((url, doc_id) for url, doc_id in rows)
    return ids


def _documents_by_id(conn: Connection, ids: list[int]) -> list[StoredDocument]:
    docs: list[StoredDocument] = []
    for chunk in chunked(ids):
        stmt = select(Document).where(Document.id.in_(chunk), Document.status == "ok")
        docs += [to_document(row) for row in conn.execute(stmt.order_by(Document.id))]
    return docs


def _prior_counts(conn: Connection, doc_ids: list[int]) -> dict[int, tuple[int, str, str]]:
    """document id -> (host id, raw hash, host) it was counted under, rows locked."""
    prior: dict[int, tuple[int, str, str]] = {}
    for chunk in chunked(doc_ids):
        rows = conn.execute(
            select(
                BoilerplateDocument.document_id,
                BoilerplateDocument.host_id,
                BoilerplateDocument.raw_hash,
                BoilerplateHost.host,
            )
            .join(BoilerplateHost, BoilerplateHost.id == BoilerplateDocument.host_id)
            .where(BoilerplateDocument.document_id.in_(chunk))
            .order_by(BoilerplateDocument.document_id)
            .with_for_update(of=BoilerplateDocument)
        )
        prior.update((r.document_id, (r.host_id, r.raw_hash, r.host)) for r in rows)
    return prior


def _host_ids(conn: Connection, hosts: set[str]) -> dict[str, int]:
    names = sorted(hosts)
    conn.execute(
        insert_for(conn, BoilerplateHost).on_conflict_do_nothing(
            index_elements=[BoilerplateHost.host]
        ),
        [{"host": h, "documents": 0} for h in names],
    )
    rows = conn.execute(
        select(BoilerplateHost.host, BoilerplateHost.id).where(BoilerplateHost.host.in_(names))
    )
    return {host: host_id for host, host_id in rows}


def _paragraph_ids(
    conn: Connection, texts: Iterable[CountedText], host_ids: dict[str, int]
) -> tuple[dict[tuple[str, int], int], set[int]]:
    """(host, hash) -> paragraph id, inserting the paragraphs not seen before; and the
    ids of those already known."""
    by_host: dict[str, set[int]] = defaultdict(set)
    for t in texts:
        by_host[t.host].update(p.hash for p in t.paragraphs)
    ids: dict[tuple[str, int], int] = {}
    settled: set[int] = set()
    for host in sorted(by_host):
        host_id = host_ids[host]
        # In (host, hash) order, so concurrent batches take the unique-index locks in
        # the same order and cannot deadlock on each other.
        for chunk in chunked(sorted(by_host[host])):
            conn.execute(
                insert_for(conn, BoilerplateParagraph).on_conflict_do_nothing(
                    index_elements=[BoilerplateParagraph.host_id, BoilerplateParagraph.hash]
                ),
                [{"host_id": host_id, "hash": h, "documents": 0} for h in chunk],
            )
            rows = conn.execute(
                select(
                    BoilerplateParagraph.hash,
                    BoilerplateParagraph.id,
                    BoilerplateParagraph.known_at,
                ).where(
                    BoilerplateParagraph.host_id == host_id, BoilerplateParagraph.hash.in_(chunk)
                )
            )
            for h, pid, known_at in rows:
                ids[(host, h)] = pid
                if known_at is not None:
                    settled.add(pid)
    return ids, settled


def _occurrence_paragraphs(conn: Connection, doc_ids: list[int]) -> set[int]:
    """The paragraph ids the documents are counted under now."""
    found: set[int] = set()
    for chunk in chunked(doc_ids):
        found.update(
            conn.scalars(
                select(BoilerplateOccurrence.paragraph_id).where(
                    BoilerplateOccurrence.document_id.in_(chunk)
                )
            )
        )
    return found


def _lock_paragraphs(conn: Connection, paragraph_ids: list[int]) -> None:
    """Lock the paragraph rows in id order until commit (SQLite: BEGIN IMMEDIATE did)."""
    if conn.dialect.name != "postgresql":
        return
    for chunk in chunked(paragraph_ids):
        conn.execute(
            select(BoilerplateParagraph.id)
            .where(BoilerplateParagraph.id.in_(chunk))
            .order_by(BoilerplateParagraph.id)
            .with_for_update()
        ).all()


def _delete_occurrences(conn: Connection, doc_ids: list[int]) -> None:
    """Delete the documents' occurrences."""
    for chunk in chunked(doc_ids):
        conn.execute(
            delete(BoilerplateOccurrence).where(BoilerplateOccurrence.document_id.in_(chunk))
        )


def _insert_occurrences(conn: Connection, rows: list[tuple[int, int, int]]) -> None:
    """Insert (paragraph id, document id, content key) rows not there yet."""
    if rows:
        # One executemany of a cached statement: a multi-row VALUES would be compiled
        # afresh for every batch, which costs more than the database's work.
        conn.execute(
            insert_for(conn, BoilerplateOccurrence).on_conflict_do_nothing(),
            [{"paragraph_id": p, "document_id": d, "content_key": k} for p, d, k in rows],
        )


def _recount(conn: Connection, paragraph_ids: list[int]) -> None:
    """Set each paragraph's count to the distinct content keys among its documents.

    Recomputed rather than incremented, so no sequence of updates can drift it. The
    rows were locked first (``_lock_paragraphs``), so on PostgreSQL this statement
    starts after any concurrent batch sharing them committed, and sees its rows.
    """
    occurrence = BoilerplateOccurrence
    distinct_keys = (
        select(func.count(distinct(occurrence.content_key)))
        .where(occurrence.paragraph_id == BoilerplateParagraph.id)
        .scalar_subquery()
    )
    for chunk in chunked(paragraph_ids):
        conn.execute(
            update(BoilerplateParagraph)
            .where(BoilerplateParagraph.id.in_(chunk), BoilerplateParagraph.known_at.is_(None))
            .values(documents=distinct_keys)
        )


def _apply_host_deltas(conn: Connection, deltas: Counter[int]) -> None:
    """Add each delta to the host's documents count (in SQL, so concurrent counts add up)."""
    rows = [{"b_id": i, "b_delta": n} for i, n in sorted(deltas.items()) if n]
    if rows:
        conn.execute(
            update(BoilerplateHost)
            .where(BoilerplateHost.id == bindparam("b_id"))
            .values(documents=BoilerplateHost.documents + bindparam("b_delta")),
            rows,
        )
