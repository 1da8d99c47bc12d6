"""The copy index in the database: signatures, LSH band keys and copy clusters.

The tables, keyed by ``documents.id`` but for the clusters' own:

* ``copy_bands`` (band key, document id): one row per LSH band of each document's
  MinHash signature, the primary key doubling as the index, so the documents sharing
  a band with a new text come from one indexed lookup per band, however large the
  corpus. A WITHOUT ROWID table on SQLite: the index is the table.
* ``copy_bands_recent``: the same rows for the documents fingerprinted since the last
  merge. New keys go here, and once it holds ``recent_band_rows`` rows they move into
  ``copy_bands`` in one key-ordered pass (``copy_index_state`` counts them). Why: band
  keys are random, so each batch's few thousand keys land on as many different pages
  of the big table, and once that table outgrows the cache every batch rewrites
  thousands of pages, growing the cost per document with the corpus. The small table
  stays in the cache, and a sorted merge writes each page of the big one once for
  many keys. Lookups read both.
* ``copy_members``: each fingerprinted document's signature, exact hash and copy
  cluster, plus what the representative rule needs (publish time, text length).
* ``copy_clusters``: one row per copy cluster with its representative and size.

Membership is a table of its own rather than a column on ``documents``: the document
upsert rewrites every column of a re-fetched row, and the index can be rebuilt or
caught up without touching the corpus table.

Assigning clusters is one transaction per batch, serialised between processes (SQLite's
``BEGIN IMMEDIATE``, a transaction-level advisory lock on PostgreSQL): two workers
storing copies of one text at the same moment would otherwise each miss the other's
and start two clusters. The section is short (a few indexed reads and bulk inserts per
batch), so serialising it costs little.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    Select,
    String,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.copies import (
    Candidate,
    CopyDecision,
    CopySettings,
    FingerprintedText,
    Member,
    best_match,
    representative_key,
)
from pipeline.fingerprint import Fingerprint, band_keys
from storage.cursors import mark_changed
from storage.database import retry_aborted, translate_errors, write_engine
from storage.errors import StorageError
from storage.models import Base, Document
from storage.rows import chunked, insert_for

logger = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock that serialises cluster assignment ("copy").
_PG_COPY_LOCK = 0x636F7079
# Band keys per IN (...) list: far below SQLite's 32766 bound parameters.
_KEY_CHUNK = 2000
# Rows the recent band table holds before they are merged into ``copy_bands``: about
# 10,000 documents' worth (42 keys each), a few MB that stay in SQLite's page cache.
# Larger merges less often; see benchmarks/dedup_scale.py for the effect.
RECENT_BAND_ROWS = 400_000
_BAND_TABLES = ("copy_bands", "copy_bands_recent")


class CopyClusterRow(Base):
    """A copy cluster: documents with (nearly) the same text, and which one represents it."""

    __tablename__ = "copy_clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    representative_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CopyMemberRow(Base):
    """A fingerprinted document: its signature, exact hash and copy cluster."""

    __tablename__ = "copy_members"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("copy_clusters.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String, index=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    shingles: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime | None]
    text_chars: Mapped[int] = mapped_column(Integer)
    fingerprinted_at: Mapped[datetime]


class CopyBandRow(Base):
    """One LSH band key of one document (derived from its signature, rebuilt with it)."""

    __tablename__ = "copy_bands"
    # The primary key is the lookup index; a rowid beside it would only double the size.
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class RecentCopyBandRow(Base):
    """A band key of a document fingerprinted since the last merge into ``copy_bands``."""

    __tablename__ = "copy_bands_recent"
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class CopyIndexStateRow(Base):
    """The one row (id 1) counting the rows added to ``copy_bands_recent`` since its merge."""

    __tablename__ = "copy_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recent_rows: Mapped[int] = mapped_column(BigInteger)


class CopyNotFoundError(StorageError, LookupError):
    """The document is not stored, or has not been through the copy stage yet."""

    def __init__(self, document: int | str) -> None:
        self.document = document
        super().__init__(
            f"document {document!r} has no copy cluster: it is not stored as an article, "
            "or the copy stage has not seen it yet"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyCluster:
    """A copy cluster as storage returns it."""

    id: int
    representative_id: int  # a document id, one of ``members``
    members: tuple[int, ...]  # document ids, ascending


@dataclass(frozen=True, slots=True, kw_only=True)
class Unfingerprinted:
    """A stored article without a current fingerprint: it has no copy cluster yet, or
    its text changed (it was cleaned again) after it was fingerprinted."""

    id: int
    url: str
    text: str
    content_hash: str
    published_at: datetime | None


def with_copies(query: Select[Any]) -> Select[Any]:
    """``query`` on ``documents`` with each row's ``copy_id`` and ``is_representative``."""
    return (
        query.add_columns(
            CopyMemberRow.cluster_id.label("copy_id"),
            (CopyClusterRow.representative_id == Document.id).label("is_representative"),
        )
        .outerjoin(CopyMemberRow, CopyMemberRow.document_id == Document.id)
        .outerjoin(CopyClusterRow, CopyClusterRow.id == CopyMemberRow.cluster_id)
    )


class CopyIndex:
    """Copy clusters in the database: assigns them and answers which cluster a document is in.

    Thread-safe like the engine; any number of processes may share one database.
    """

    def __init__(
        self,
        engine: Engine,
        settings: CopySettings | None = None,
        *,
        recent_band_rows: int = RECENT_BAND_ROWS,
    ) -> None:
        self._engine = engine
        self._writer = write_engine(engine)
        self.settings = settings or CopySettings()
        self.recent_band_rows = recent_band_rows

    # -- reads -------------------------------------------------------------------------

    def copy_of(self, document: int | str) -> int:
        """The copy cluster id of a document, given its id or its canonical URL.

        Raises ``CopyNotFoundError`` when the document is not stored or not assigned.
        """
        found = self.copies_of([document])
        if document not in found:
            raise CopyNotFoundError(document)
        return found[document]

    def copies_of(self, documents: Iterable[int | str]) -> dict[int | str, int]:
        """Copy cluster ids of several documents (ids or URLs); unknown ones are left out."""
        wanted = list(documents)
        ids = [d for d in wanted if isinstance(d, int)]
        urls = [d for d in wanted if isinstance(d, str)]
        found: dict[int | str, int] = {}
        with self._read() as conn:
            for id_chunk in chunked(ids):
                by_id = select(CopyMemberRow.document_id, CopyMemberRow.cluster_id).where(
                    CopyMemberRow.document_id.in_(id_chunk)
                )
                found.update({doc: cluster for doc, cluster in conn.execute(by_id)})
            for url_chunk in chunked(urls):
                by_url = (
                    select(Document.url, CopyMemberRow.cluster_id)
                    .join(CopyMemberRow, CopyMemberRow.document_id == Document.id)
                    .where(Document.url.in_(url_chunk))
                )
                found.update({url: cluster for url, cluster in conn.execute(by_url)})
        return found

    def cluster(self, copy_id: int) -> CopyCluster:
        """One copy cluster with its members (``CopyNotFoundError`` if there is none)."""
        with self._read() as conn:
            row = conn.execute(
                select(CopyClusterRow.representative_id).where(CopyClusterRow.id == copy_id)
            ).one_or_none()
            if row is None:
                raise CopyNotFoundError(f"copy cluster {copy_id}")
            members = conn.scalars(
                select(CopyMemberRow.document_id)
                .where(CopyMemberRow.cluster_id == copy_id)
                .order_by(CopyMemberRow.document_id)
            )
            return CopyCluster(id=copy_id, representative_id=row[0], members=tuple(members))

    def clusters(self) -> Iterator[CopyCluster]:
        """Every copy cluster, by id (reads the whole index: for reports and tests)."""
        with self._read() as conn:
            members: dict[int, list[int]] = defaultdict(list)
            rows = conn.execute(
                select(CopyMemberRow.cluster_id, CopyMemberRow.document_id).order_by(
                    CopyMemberRow.cluster_id, CopyMemberRow.document_id
                )
            )
            for cluster_id, document_id in rows:
                members[cluster_id].append(document_id)
            reps = conn.execute(
                select(CopyClusterRow.id, CopyClusterRow.representative_id).order_by(
                    CopyClusterRow.id
                )
            )
            for cluster_id, rep in reps:
                yield CopyCluster(
                    id=cluster_id, representative_id=rep, members=tuple(members[cluster_id])
                )

    def unfingerprinted(
        self, limit: int = 500, after: int = 0, among: Collection[int] | None = None
    ) -> list[Unfingerprinted]:
        """Stored articles with no copy cluster (e.g. stored by an older newsingest) or
        fingerprinted from a text they no longer have (cleaned again since), in document
        id order from just past ``after`` (keyset paging: each page is an index range,
        not a rescan from the start); only those in ``among`` when it is given."""
        query = (
            select(
                Document.id,
                Document.url,
                Document.text,
                Document.content_hash,
                Document.published_at,
            )
            .outerjoin(CopyMemberRow, CopyMemberRow.document_id == Document.id)
            .where(
                Document.id > after,
                Document.status == "ok",
                or_(
                    CopyMemberRow.document_id.is_(None),
                    CopyMemberRow.content_hash != Document.content_hash,
                ),
            )
            .order_by(Document.id)
            .limit(limit)
        )
        if among is not None:
            query = query.where(Document.id.in_(sorted(among)))
        with self._read() as conn:
            return [
                Unfingerprinted(
                    id=doc, url=url, text=body or "", content_hash=h or "", published_at=published
                )
                for doc, url, body, h, published in conn.execute(query)
            ]

    # -- writes ------------------------------------------------------------------------

    def assign(self, texts: Sequence[FingerprintedText]) -> dict[str, int]:
        """Put each stored document in its copy cluster; returns URL -> copy cluster id.

        In order: a document already fingerprinted with the same text keeps its cluster
        (so a batch written twice changes nothing); a document whose text changed is
        re-fingerprinted (its band keys replaced) and stays in its cluster while it still
        matches a member there; any other joins the cluster of its best verified match
        or starts one. URLs that are not stored articles are left out.
        """
        if not texts:
            return {}

        def assign_once() -> dict[str, int]:
            with self._writer.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_COPY_LOCK})
                return _Assignment(conn, self.settings, self.recent_band_rows).run(texts)

        # PostgreSQL may pick this transaction as a deadlock's victim (a worker storing
        # the same URLs holds their rows); it rolled back whole, so it is run again.
        with translate_errors(self._engine):
            return retry_aborted(assign_once, what="copy index batch")

    # -- helpers -----------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(self._engine), self._engine.begin() as conn:
            yield conn


_Changed = tuple[int, FingerprintedText, int | None]  # document id, text, old cluster


class _Assignment:
    """One batch's cluster assignment inside one transaction.

    Implements ``pipeline.copies.NearDuplicateIndex`` over the band keys read from the
    database for the whole batch at once, plus the batch's own documents as they are
    placed, so a batch costs a handful of queries whatever its size.
    """

    def __init__(self, conn: Connection, settings: CopySettings, recent_band_rows: int) -> None:
        self.conn = conn
        self.settings = settings
        self.recent_band_rows = recent_band_rows
        self.now = datetime.now(UTC)
        self.bands: dict[int, list[int]] = defaultdict(list)  # band key -> document ids
        self.by_hash: dict[str, list[int]] = defaultdict(list)  # content hash -> documents
        self.known: dict[int, Candidate] = {}  # document id -> its signature and cluster
        self.reps: dict[int, Member] = {}  # cluster id -> representative (touched only)
        self.sizes: Counter[int] = Counter()  # cluster id -> change in size
        self.new_clusters: list[int] = []  # provisional (negative) ids, in creation order
        self.rebuild: set[int] = set()  # clusters whose representative must be recomputed

    # NearDuplicateIndex
    def candidates(self, fingerprint: Fingerprint) -> list[Candidate]:
        """Known documents sharing the exact hash or the most band keys with ``fingerprint``."""
        return [self.known[doc] for doc in self._likeliest(fingerprint) if doc in self.known]

    def _likeliest(self, fingerprint: Fingerprint) -> list[int]:
        """An exact copy, then the documents sharing the most band keys (the likeliest
        copies: the share of equal bands grows with the similarity), at most
        ``max_candidates`` of them."""
        shared: Counter[int] = Counter()
        for key in fingerprint.band_keys:
            shared.update(self.bands.get(key, ()))
        ranked = sorted(shared, key=lambda doc: (-shared[doc], doc))
        exact = self.by_hash.get(fingerprint.content_hash, [])[:1]
        return list(dict.fromkeys([*exact, *ranked[: self.settings.max_candidates]]))

    def run(self, texts: Sequence[FingerprintedText]) -> dict[str, int]:
        latest = {t.url: t for t in texts}  # a URL twice in a batch: the last text wins
        ids = self._document_ids(list(latest))
        existing = self._load_members(list(ids.values()))
        todo = [
            (ids[url], t)
            for url, t in latest.items()
            if url in ids
            and (
                ids[url] not in existing
                or existing[ids[url]].content_hash != t.fingerprint.content_hash
            )
        ]
        self._prefetch([t.fingerprint for _, t in todo])
        changed: list[_Changed] = []
        for document_id, item in todo:
            old = existing.get(document_id)
            cluster = self._place(document_id, item, old.cluster_id if old else None)
            changed.append((document_id, item, old.cluster_id if old else None))
            self._remember(document_id, item, cluster)
        touched = sorted(c for c in {*self.sizes, *self.reps, *self.rebuild} if c > 0)
        before = self._representatives(touched)
        real = self._write(changed, existing)
        after = self._representatives(touched)
        # Readers of the corpus get these documents again: a new copy cluster, or a
        # representative flag that moved from one member to another.
        flipped = [
            doc
            for c in touched
            if before.get(c) != after.get(c)
            for doc in (before.get(c), after.get(c))
            if doc is not None
        ]
        mark_changed(self.conn, ids=[doc for doc, _, _ in changed] + flipped)
        result = {url: existing[ids[url]].cluster_id for url in latest if ids.get(url) in existing}
        for document_id, item, _ in changed:
            result[item.url] = real(self.known[document_id].cluster_id)
        return result

    # -- reading ------------------------------------------------------------------------

    def _representatives(self, clusters: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for chunk in chunked(clusters):
            rows = self.conn.execute(
                select(CopyClusterRow.id, CopyClusterRow.representative_id).where(
                    CopyClusterRow.id.in_(chunk)
                )
            )
            found.update({cluster: rep for cluster, rep in rows})
        return found

    def _document_ids(self, urls: list[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for chunk in chunked(urls):
            rows = self.conn.execute(
                select(Document.url, Document.id).where(
                    Document.url.in_(chunk), Document.status == "ok"
                )
            )
            ids.update({url: doc for url, doc in rows})
        missing = len(urls) - len(ids)
        if missing:
            logger.warning("copy index: %d of %d URLs are not stored articles", missing, len(urls))
        return ids

    def _load_members(self, document_ids: Sequence[int]) -> dict[int, Candidate]:
        found: dict[int, Candidate] = {}
        for chunk in chunked(sorted(document_ids)):
            found.update(self._candidates(CopyMemberRow.document_id.in_(chunk)))
        self.known.update(found)
        return found

    def _candidates(self, where: Any) -> dict[int, Candidate]:
        rows = self.conn.execute(
            select(
                CopyMemberRow.document_id,
                CopyMemberRow.cluster_id,
                CopyMemberRow.content_hash,
                CopyMemberRow.signature,
            ).where(where)
        )
        return {
            doc: Candidate(document_id=doc, cluster_id=cluster, content_hash=h, signature=sig)
            for doc, cluster, h, sig in rows
        }

    def _prefetch(self, fingerprints: list[Fingerprint]) -> None:
        """Read the band keys and exact hashes of the batch, then the likeliest candidates."""
        keys = sorted({key for f in fingerprints for key in f.band_keys})
        for chunk in chunked(keys, _KEY_CHUNK):
            # The keys are integers we computed, so they are written into the SQL as
            # literals: binding thousands of parameters per batch costs more than the read.
            literals = ",".join(str(int(key)) for key in chunk)
            rows = self.conn.exec_driver_sql(
                " UNION ALL ".join(
                    f"SELECT band_key, document_id FROM {table} WHERE band_key IN ({literals})"
                    for table in _BAND_TABLES
                )
            )
            for key, doc in rows:
                self.bands[key].append(doc)
        hashes = sorted({f.content_hash for f in fingerprints})
        for hash_chunk in chunked(hashes):
            by_hash = self.conn.execute(
                select(CopyMemberRow.content_hash, CopyMemberRow.document_id)
                .where(CopyMemberRow.content_hash.in_(hash_chunk))
                .order_by(CopyMemberRow.document_id)
            )
            for h, doc in by_hash:
                self.by_hash[h].append(doc)
        wanted = {doc for f in fingerprints for doc in self._likeliest(f)}
        self._load_members(sorted(wanted - set(self.known)))

    # -- deciding -----------------------------------------------------------------------

    def _place(self, document_id: int, item: FingerprintedText, current: int | None) -> int:
        """The cluster for one document (a provisional negative id for a new cluster)."""
        candidates = [c for c in self.candidates(item.fingerprint) if c.document_id != document_id]
        threshold = self.settings.threshold
        if current is not None:
            # A re-fetched text stays while it still matches a member of its cluster.
            mates = [c for c in candidates if c.cluster_id == current]
            if best_match(item.fingerprint, mates, threshold).reason != "new":
                return current
        decision: CopyDecision = best_match(item.fingerprint, candidates, threshold)
        if decision.cluster_id is not None:
            logger.debug(
                "copy %s: %s of document %s (%.2f)",
                item.url,
                decision.reason,
                decision.match,
                decision.similarity,
            )
            return decision.cluster_id
        if current is not None and self._alone(document_id, current):
            return current  # no longer like anything, but nothing else shares its cluster
        provisional = -(len(self.new_clusters) + 1)
        self.new_clusters.append(provisional)
        return provisional

    def _alone(self, document_id: int, cluster: int) -> bool:
        others = self.conn.execute(
            select(CopyMemberRow.document_id)
            .where(CopyMemberRow.cluster_id == cluster, CopyMemberRow.document_id != document_id)
            .limit(1)
        ).first()
        return others is None

    def _remember(self, document_id: int, item: FingerprintedText, cluster: int) -> None:
        """Make a placed document visible to the rest of the batch, and track its cluster."""
        old = self.known.get(document_id)
        f = item.fingerprint
        self.known[document_id] = Candidate(
            document_id=document_id,
            cluster_id=cluster,
            content_hash=f.content_hash,
            signature=f.signature,
        )
        for key in f.band_keys:
            self.bands[key].append(document_id)
        self.by_hash[f.content_hash].append(document_id)
        if old is not None:
            # Re-fingerprinted: its publish time or length may have changed, and a
            # cluster it left may have lost its representative; recount both from rows.
            self.rebuild.add(old.cluster_id)
            if old.cluster_id == cluster:
                return
            self.sizes[old.cluster_id] -= 1
        self.sizes[cluster] += 1
        member = Member(
            document_id=document_id, published_at=item.published_at, text_chars=item.text_chars
        )
        rep = self.reps.get(cluster)
        if rep is None:
            rep = member if cluster < 0 else self._stored_rep(cluster)
        self.reps[cluster] = min(rep, member, key=representative_key)

    def _stored_rep(self, cluster: int) -> Member:
        published, chars, doc = self.conn.execute(
            select(CopyMemberRow.published_at, CopyMemberRow.text_chars, CopyMemberRow.document_id)
            .join(CopyClusterRow, CopyClusterRow.representative_id == CopyMemberRow.document_id)
            .where(CopyClusterRow.id == cluster)
        ).one()
        return Member(document_id=doc, published_at=published, text_chars=chars)

    # -- writing ------------------------------------------------------------------------

    def _write(self, changed: list[_Changed], existing: dict[int, Candidate]) -> Any:
        """Insert new clusters, members and band keys; update the clusters touched."""
        mapping: dict[int, int] = {}
        if self.new_clusters:
            rows = [
                {
                    "representative_id": self.reps[p].document_id,
                    "size": self.sizes[p],
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for p in self.new_clusters
            ]
            ids = self.conn.execute(
                insert(CopyClusterRow).returning(CopyClusterRow.id, sort_by_parameter_order=True),
                rows,
            ).scalars()
            mapping = dict(zip(self.new_clusters, ids, strict=True))

        def real(cluster: int) -> int:
            return mapping.get(cluster, cluster)

        # Old band keys of re-fingerprinted documents go; the keys follow from the
        # stored signature, so no second index on document_id is needed to find them.
        stale = sorted(
            (key, doc)
            for doc, _, old in changed
            if old is not None
            for key in band_keys(existing[doc].signature)
        )
        if stale:
            for table in _BAND_TABLES:
                self._executemany(
                    f"DELETE FROM {table} WHERE band_key = {{p}} AND document_id = {{p}}", stale
                )
        members = [
            {
                "document_id": doc,
                "cluster_id": real(self.known[doc].cluster_id),
                "content_hash": item.fingerprint.content_hash,
                "signature": item.fingerprint.signature,
                "shingles": item.fingerprint.shingles,
                "published_at": item.published_at,
                "text_chars": item.text_chars,
                "fingerprinted_at": self.now,
            }
            for doc, item, _ in changed
        ]
        if members:
            stmt = insert_for(self.conn, CopyMemberRow)
            new = stmt.excluded
            self.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[CopyMemberRow.document_id],
                    set_={c: new[c] for c in members[0] if c != "document_id"},
                ),
                members,
            )
        # In key order, so the B-tree is walked once from left to right.
        bands = sorted(
            {(key, doc) for doc, item, _ in changed for key in item.fingerprint.band_keys}
        )
        if bands:
            self._executemany(
                "INSERT INTO copy_bands_recent (band_key, document_id) VALUES ({p}, {p}) "
                "ON CONFLICT DO NOTHING",
                bands,
            )
            self._merge_when_full(len(bands))
        self._update_clusters()
        return real

    def _merge_when_full(self, added: int) -> None:
        """Count the rows just added to the recent band table; past the limit, move them
        all into ``copy_bands`` in key order and start again from an empty table."""
        stmt = insert_for(self.conn, CopyIndexStateRow).values(id=1, recent_rows=added)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CopyIndexStateRow.id],
            set_={"recent_rows": CopyIndexStateRow.recent_rows + added},
        )
        pending = self.conn.execute(stmt.returning(CopyIndexStateRow.recent_rows)).scalar_one()
        if pending < self.recent_band_rows:
            return
        # "WHERE true": SQLite's parser would otherwise read ON CONFLICT as a join's ON.
        self.conn.exec_driver_sql(
            "INSERT INTO copy_bands (band_key, document_id) "
            "SELECT band_key, document_id FROM copy_bands_recent WHERE true "
            "ORDER BY band_key, document_id ON CONFLICT DO NOTHING"
        )
        self.conn.exec_driver_sql("DELETE FROM copy_bands_recent")
        self.conn.execute(
            update(CopyIndexStateRow).where(CopyIndexStateRow.id == 1).values(recent_rows=0)
        )
        logger.debug("copy index: merged %d recent band keys", pending)

    def _executemany(self, sql: str, rows: list[tuple[int, int]]) -> None:
        """Run ``sql`` once per row through the driver: the band-key rows are many and
        plain, and SQLAlchemy's per-row parameter handling would cost more than SQLite."""
        placeholder = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        self.conn.exec_driver_sql(sql.format(p=placeholder), rows)

    def _update_clusters(self) -> None:
        for cluster in sorted(self.rebuild):
            self._recompute(cluster)
        for cluster in sorted({c for c in [*self.sizes, *self.reps] if c > 0} - self.rebuild):
            rep = self.reps.get(cluster)
            values: dict[str, Any] = {"updated_at": self.now}
            if self.sizes[cluster]:
                values["size"] = CopyClusterRow.size + self.sizes[cluster]
            if rep is not None:
                values["representative_id"] = rep.document_id
            self.conn.execute(
                update(CopyClusterRow).where(CopyClusterRow.id == cluster).values(values)
            )

    def _recompute(self, cluster: int) -> None:
        """Size and representative from the members (after a member changed or left)."""
        rows = self.conn.execute(
            select(
                CopyMemberRow.document_id, CopyMemberRow.published_at, CopyMemberRow.text_chars
            ).where(CopyMemberRow.cluster_id == cluster)
        ).all()
        if not rows:
            self.conn.execute(delete(CopyClusterRow).where(CopyClusterRow.id == cluster))
            return
        members = [Member(document_id=d, published_at=p, text_chars=n) for d, p, n in rows]
        rep = min(members, key=representative_key)
        self.conn.execute(
            update(CopyClusterRow)
            .where(CopyClusterRow.id == cluster)
            .values(representative_id=rep.document_id, size=len(rows), updated_at=self.now)
        )
