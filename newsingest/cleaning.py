"""Learned boilerplate wired to the store: the batch stage, re-cleaning and explaining.

The pipeline's rules (``pipeline.clean``) run in the extraction workers; what a host
repeats on every page is learned here, in the process that owns the database:

* ``LearnedBoilerplate`` (a ``BatchStage``) removes each host's known paragraphs
  before a batch is written, then counts the raw paragraphs of the articles written;
  when a paragraph becomes known, the stored documents of that host containing it
  are re-cleaned at once.
* ``reclean`` re-runs the whole cleaning (rules, then learned) from the stored raw
  text, for ``newsingest reclean``; ``explain`` says what cleaning removed from one
  document and why, for ``newsingest explain``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from newsingest.config import Settings
from pipeline.boilerplate import (
    BoilerplateSettings,
    content_key,
    countable_paragraphs,
    host_key,
    paragraph_hash,
    remove_known,
    split_paragraphs,
)
from pipeline.clean import Removal, clean_text
from pipeline.records import Article
from pipeline.text import content_hash
from storage.boilerplate import BoilerplateStore, CountedText, LearnedParagraph, TextChange
from storage.records import StoredDocument
from storage.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """What cleaning one stored document removes, rule by rule, and what it keeps."""

    url: str
    host: str
    removed: tuple[Removal, ...]  # rule removals first, then learned ones
    text: str  # the kept text, as cleaning it now gives it
    authors: tuple[str, ...]  # names the rules took from byline paragraphs
    stored_text_differs: bool  # the stored text is not what cleaning gives now
    learned_counts: dict[str, int]  # learned paragraph -> documents it was learned from


@dataclass(frozen=True, slots=True, kw_only=True)
class RecleanResult:
    """What ``reclean`` did."""

    examined: int  # documents cleaned again from their raw text
    changed: int  # of those, documents whose text changed
    learned: int  # paragraphs that became known while counting


class LearnedBoilerplate:
    """The batch stage: remove known host boilerplate, then learn from what was written."""

    def __init__(
        self,
        store: BoilerplateStore,
        settings: BoilerplateSettings,
        on_rewritten: Callable[[list[int]], object] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        # Told the ids of stored documents cleaned again, so that what was derived
        # from their old text (copy fingerprints) can follow.
        self._on_rewritten = on_rewritten

    def before_save(self, articles: list[Article]) -> list[Article]:
        """Each article without its host's known paragraphs, its content hash redone."""
        if not self._settings.enabled or not articles:
            return articles
        known = self._known_by_host((host_of(a.final_url, a.url), a.text) for a in articles)
        cleaned: list[Article] = []
        for article in articles:
            outcome = remove_known(
                article.text, known[host_of(article.final_url, article.url)], self._settings
            )
            if outcome.removed:
                logger.debug(
                    "%s (%s): %d learned boilerplate paragraph(s) removed",
                    article.url,
                    article.source,
                    len(outcome.removed),
                )
                article = replace(
                    article, text=outcome.text, content_hash=content_hash(outcome.text)
                )
            cleaned.append(article)
        return cleaned

    def after_save(self, articles: list[Article]) -> None:
        """Count the written articles' raw paragraphs; re-clean for what became known."""
        if not self._settings.enabled or not articles:
            return
        newly = self._store.count(
            [counted_text(a.url, a.final_url, a.raw_text, self._settings) for a in articles]
        )
        if newly:
            self.clean_for(newly)

    def clean_for(self, learned: Sequence[LearnedParagraph]) -> int:
        """Remove newly known paragraphs from the stored documents containing them.

        Works on the stored (already rule-cleaned) text rather than the raw text, so it
        can only take paragraphs away: whatever else cleaned the text stays as it was.
        Returns how many documents changed.
        """
        docs = self._store.documents_containing([p.id for p in learned])
        known = self._known_by_host((host_of(d.final_url, d.url), d.text or "") for d in docs)
        changes = []
        for doc in docs:
            if doc.text is None or doc.content_hash is None:
                continue
            outcome = remove_known(doc.text, known[host_of(doc.final_url, doc.url)], self._settings)
            if outcome.removed:
                changes.append(
                    TextChange(
                        document_id=doc.id,
                        expected_hash=doc.content_hash,
                        text=outcome.text,
                        content_hash=content_hash(outcome.text),
                    )
                )
        changed = self._store.apply(changes, mark_known=[p.id for p in learned])
        if changed and self._on_rewritten is not None:
            self._on_rewritten([c.document_id for c in changes])
        logger.info(
            "learned %d boilerplate paragraph(s) of %s; re-cleaned %d stored document(s)",
            len(learned),
            ", ".join(sorted({p.host for p in learned})),
            changed,
        )
        return changed

    # -- helpers -------------------------------------------------------------------------

    def _known_by_host(self, texts: Iterable[tuple[str, str]]) -> dict[str, set[int]]:
        """host -> the known hashes among the paragraphs of ``texts`` (one query a host)."""
        hashes: dict[str, set[int]] = defaultdict(set)
        for host, text in texts:
            hashes[host].update(paragraph_hash(p) for p in split_paragraphs(text))
        return {host: self._store.known_paragraphs(host, h) for host, h in hashes.items()}


def learned_boilerplate(
    settings: Settings, store: Store, on_rewritten: Callable[[list[int]], object] | None = None
) -> LearnedBoilerplate:
    """The batch stage for ``settings``, on ``store``'s database."""
    return LearnedBoilerplate(
        BoilerplateStore(store.engine, settings.boilerplate), settings.boilerplate, on_rewritten
    )


def host_of(final_url: str | None, url: str) -> str:
    """The host whose template produced the page: where the fetch ended, else the URL.

    Not the canonical URL's: a syndicated copy may name another site as canonical.
    A page imported from a local file (``file://``) has no host of its own; the URL
    it declared stands in for it, so a saved page learns with its site's pages.
    """
    if final_url and not final_url.startswith("file:"):
        return host_key(final_url)
    return host_key(url)


def counted_text(
    url: str, final_url: str | None, raw_text: str, settings: BoilerplateSettings
) -> CountedText:
    """What the store counts for one document: its host and raw paragraphs."""
    return CountedText(
        url=url,
        host=host_of(final_url, url),
        # Only tells whether the raw text changed: a plain digest is enough, and cheaper.
        raw_hash=hashlib.blake2b(raw_text.encode("utf-8"), digest_size=16).hexdigest(),
        content_key=content_key(raw_text),
        paragraphs=countable_paragraphs(raw_text, settings),
    )


def explain(
    doc: StoredDocument, store: BoilerplateStore, settings: BoilerplateSettings
) -> Explanation:
    """Clean a stored document again from its raw text and say what each step removed."""
    return explain_all([doc], store, settings)[0]


def explain_all(
    docs: Sequence[StoredDocument], store: BoilerplateStore, settings: BoilerplateSettings
) -> list[Explanation]:
    """``explain`` for many documents, asking the store once per host."""
    rules = [clean_text(_raw(d), title=d.title) for d in docs]
    hosts = [host_of(d.final_url, d.url) for d in docs]
    hashes: dict[str, set[int]] = defaultdict(set)
    for host, cleaning in zip(hosts, rules, strict=True):
        hashes[host].update(paragraph_hash(p) for p in split_paragraphs(cleaning.text))
    learned: dict[str, dict[int, LearnedParagraph]] = {
        host: {p.hash: p for p in store.learned(host, h)} if settings.enabled else {}
        for host, h in hashes.items()
    }
    explanations = []
    for doc, host, cleaning in zip(docs, hosts, rules, strict=True):
        known = learned[host]
        after = remove_known(cleaning.text, known.keys(), settings)
        explanations.append(
            Explanation(
                url=doc.url,
                host=host,
                removed=cleaning.removed + after.removed,
                text=after.text,
                authors=cleaning.authors,
                stored_text_differs=(doc.text or "") != after.text,
                learned_counts={
                    r.paragraph: known[paragraph_hash(r.paragraph)].documents for r in after.removed
                },
            )
        )
    return explanations


def reclean(
    store: BoilerplateStore,
    settings: BoilerplateSettings,
    *,
    source_id: str | None = None,
    batch_size: int = 200,
) -> RecleanResult:
    """Clean stored documents again from their raw text: the rules, then learned paragraphs.

    First every document's raw paragraphs are counted (documents stored before
    counting began, or whose raw text changed, are learned from), then each document
    is cleaned with what is known now, batch by batch, each batch one transaction.
    Running it twice changes nothing the second time.
    """
    learned: set[int] = set()
    if settings.enabled:
        for docs in _pages(store, source_id, batch_size):
            newly = store.count([counted_text(d.url, d.final_url, _raw(d), settings) for d in docs])
            learned.update(p.id for p in newly)
    examined = changed = 0
    for docs in _pages(store, source_id, batch_size):
        examined += len(docs)
        outcomes = explain_all(docs, store, settings)
        changes = [c for c in map(_change, docs, outcomes) if c is not None]
        changed += store.apply(changes)
    # Every document has been cleaned with them now: they need no automatic re-clean.
    store.apply([], mark_known=learned)
    logger.info("reclean: %d document(s) examined, %d changed", examined, changed)
    return RecleanResult(examined=examined, changed=changed, learned=len(learned))


def _pages(
    store: BoilerplateStore, source_id: str | None, batch_size: int
) -> Iterable[list[StoredDocument]]:
    after = 0
    while True:
        docs = store.documents_page(source_id=source_id, after_id=after, limit=batch_size)
        if not docs:
            return
        yield docs
        after = docs[-1].id


def _raw(doc: StoredDocument) -> str:
    return doc.raw_text if doc.raw_text is not None else doc.text or ""


def _change(doc: StoredDocument, outcome: Explanation) -> TextChange | None:
    """The change cleaning ``doc`` again gives, or None when its text stays as it is."""
    if doc.content_hash is None or not outcome.stored_text_differs:
        return None
    return TextChange(
        document_id=doc.id,
        expected_hash=doc.content_hash,
        text=outcome.text,
        content_hash=content_hash(outcome.text),
        # Names the rules moved out of a byline fill authors the page did not give.
        authors=outcome.authors if not doc.authors and outcome.authors else None,
    )
