"""URL aliases: every other URL under which a stored document was met.

A document is keyed by its canonical URL (``documents.url``). The URL a feed or list
gave, the URL a redirect ended on, and the page's own rel=canonical / og:url can all
differ from it; each variant is kept here, so that meeting it again never fetches
the page twice nor creates a second document.

``resolve_identities`` keys a batch's outcomes by the documents they belong to and
``write_aliases`` records the variants; ``Store.save_batch`` runs both inside its
one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, ForeignKey, Integer, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.records import Article, Failure
from storage.models import Base, Document
from storage.rows import chunked, insert_for


class UrlAliasRow(Base):
    """One URL variant (``alias``, canonicalised) of the document ``document_id``."""

    __tablename__ = "url_aliases"

    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class Resolution:
    """A batch's outcomes keyed by the documents they belong to.

    ``outcomes`` are the batch's articles (``url`` now the stored document's URL,
    ``aliases`` every other URL met) and failures; ``absorbed`` are failures for URLs
    that are aliases of a stored or incoming article: counted, never stored as rows.
    """

    outcomes: list[Article | Failure]
    absorbed: list[Failure]


def resolve_identities(conn: Connection, outcomes: Sequence[Article | Failure]) -> Resolution:
    """Key each outcome by the document it belongs to, as stored or met in the batch.

    An article belongs to the first of its URLs (its own, then its aliases) that is a
    stored ok document, else to the document one of them is an alias of, else to an
    earlier article of the batch that met one of them, else to its own URL: the URL a
    document was first stored under stays its key, and every later variant becomes
    an alias of it.
    """
    met = {u for o in outcomes for u in _urls_of(o)}
    documents = ok_documents(conn, met)
    targets = alias_targets(conn, met)
    in_batch: dict[str, str] = {}  # every URL an article of the batch met -> its key
    resolved: list[Article | Failure] = []
    absorbed: list[Failure] = []
    for outcome in outcomes:
        if isinstance(outcome, Failure):
            url = outcome.url
            if url not in documents and (url in targets or in_batch.get(url, url) != url):
                absorbed.append(outcome)
            else:
                resolved.append(outcome)
            continue
        urls = _urls_of(outcome)
        key = (
            next((u for u in urls if u in documents), None)
            or next((targets[u] for u in urls if u in targets), None)
            or next((in_batch[u] for u in urls if u in in_batch), None)
            or outcome.url
        )
        for url in urls:
            in_batch.setdefault(url, key)
        if key != outcome.url or len(urls) != 1 + len(outcome.aliases):
            outcome = replace(outcome, url=key, aliases=tuple(u for u in urls if u != key))
        resolved.append(outcome)
    return Resolution(resolved, absorbed)


def one_per_document(articles: Iterable[Article]) -> list[Article]:
    """One article per document (already keyed by ``resolve_identities``): the last
    one met, carrying the aliases of every article of that document."""
    latest: dict[str, Article] = {}
    met: dict[str, dict[str, None]] = {}
    for article in articles:
        latest[article.url] = article
        met.setdefault(article.url, {}).update(dict.fromkeys(article.aliases))
    return [
        a if tuple(met[url]) == a.aliases else replace(a, aliases=tuple(met[url]))
        for url, a in latest.items()
    ]


def write_aliases(conn: Connection, articles: Iterable[Article], at: datetime) -> int:
    """Record each article's aliases for its stored document; return how many are new.

    Run after the articles are written, in the same transaction. A URL that is itself
    a stored ok document, or the key of another article, stays that document's URL
    and is not made an alias; a failed or skipped row for a URL that now turns out to
    be an alias goes, so the variant leaves no second row. An alias already recorded
    keeps its document (the first one wins), so writing is idempotent.
    """
    wanted: dict[str, str] = {}
    keys = set()
    for article in articles:
        keys.add(article.url)
        for alias in article.aliases:
            wanted.setdefault(alias, article.url)
    wanted = {a: k for a, k in wanted.items() if a not in keys}
    if not wanted:
        return 0
    ids = {url: doc_id for url, doc_id in _document_ids(conn, set(wanted.values()))}
    taken = ok_documents(conn, set(wanted))
    wanted = {a: k for a, k in wanted.items() if k in ids and a not in taken}
    already = alias_targets(conn, set(wanted))
    fresh = sorted(a for a in wanted if a not in already)
    if not fresh:
        return 0
    for chunk in chunked(fresh):
        conn.execute(delete(Document).where(Document.url.in_(chunk), Document.status != "ok"))
    stmt = insert_for(conn, UrlAliasRow).on_conflict_do_nothing(index_elements=[UrlAliasRow.alias])
    conn.execute(
        stmt, [{"alias": a, "document_id": ids[wanted[a]], "created_at": at} for a in fresh]
    )
    return len(fresh)


def ok_documents(conn: Connection, urls: Iterable[str]) -> set[str]:
    """Of ``urls``, those that are the URL of a stored ok document."""
    found: set[str] = set()
    for chunk in chunked(sorted(set(urls))):
        found.update(
            conn.scalars(
                select(Document.url).where(Document.url.in_(chunk), Document.status == "ok")
            )
        )
    return found


def alias_targets(conn: Connection, urls: Iterable[str]) -> dict[str, str]:
    """Of ``urls``, those that are aliases, each with its document's URL."""
    found: dict[str, str] = {}
    for chunk in chunked(sorted(set(urls))):
        rows = conn.execute(
            select(UrlAliasRow.alias, Document.url)
            .join(Document, Document.id == UrlAliasRow.document_id)
            .where(UrlAliasRow.alias.in_(chunk))
        )
        found.update((alias, url) for alias, url in rows)
    return found


def _document_ids(conn: Connection, urls: set[str]) -> list[tuple[str, int]]:
    pairs: list[tuple[str, int]] = []
    for chunk in chunked(sorted(urls)):
        rows = conn.execute(
            select(Document.url, Document.id).where(
                Document.url.in_(chunk), Document.status == "ok"
            )
        )
        pairs.extend((url, doc_id) for url, doc_id in rows)
    return pairs


def _urls_of(outcome: Article | Failure) -> list[str]:
    """The URLs an outcome was met under, its own first, each once."""
    if isinstance(outcome, Failure):
        return [outcome.url]
    return list(dict.fromkeys((outcome.url, *outcome.aliases)))
