"""The copy stage: after each batch is written, put every article in its copy cluster.

Runs in the process that owns the database, first among the batch stages, so the
stages after it (the story stage) find every document of the batch with a copy cluster
id: ``storage.copies.CopyIndex(engine).copy_of(document_id or url)``.

A stored text that changes later (cleaned again once a host's boilerplate is
learned) is fingerprinted again, so its copy cluster follows it: ``refresh`` when the
learned-boilerplate stage says which documents it rewrote, ``catch_up`` at start-up
for what other processes (``newsingest reclean``) rewrote.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from pipeline.copies import CopySettings, FingerprintedText
from pipeline.fingerprint import fingerprint_text
from pipeline.records import Article
from storage.copies import CopyIndex, Unfingerprinted
from storage.rows import chunked
from storage.store import Store

logger = logging.getLogger(__name__)

_CATCH_UP_BATCH = 500


class CopyStage:
    """A ``BatchStage``: fingerprints the written articles and assigns their copy clusters.

    ``before_save`` changes nothing: the text is only final once every stage before
    the write (cleaning) has run, so fingerprinting waits for ``after_save``.
    """

    def __init__(self, index: CopyIndex) -> None:
        self.index = index

    def before_save(self, articles: list[Article]) -> list[Article]:
        """Return the articles unchanged (the copy stage only reads them)."""
        return articles

    def after_save(self, articles: list[Article]) -> None:
        """Put each written article in its copy cluster (one transaction per batch)."""
        if not articles:
            return
        assigned = self.index.assign(fingerprint_articles(articles))
        logger.debug(
            "copy stage: %d articles in %d clusters", len(assigned), len(set(assigned.values()))
        )

    def catch_up(self) -> int:
        """Fingerprint the stored articles that need it; returns how many.

        Articles stored before the copy stage existed, or by a process that stopped
        between writing a batch and assigning it, would otherwise never get a cluster
        (a stored URL is not fetched again); and a text cleaned again by another
        process, or by an older newsingest, would keep the old text's fingerprint.
        """
        done = last = 0
        while pending := self.index.unfingerprinted(_CATCH_UP_BATCH, after=last):
            last = pending[-1].id
            done += self._assign(pending)
        if done:
            logger.info("copy stage: caught up %d stored articles (new or changed text)", done)
        return done

    def refresh(self, document_ids: Iterable[int]) -> int:
        """Fingerprint again those of ``document_ids`` whose stored text changed since
        they were fingerprinted (cleaning them again removed learned boilerplate), so
        their copy clusters follow the text; returns how many."""
        done = 0
        for chunk in chunked(sorted(set(document_ids)), _CATCH_UP_BATCH):
            done += self._assign(self.index.unfingerprinted(len(chunk), among=chunk))
        return done

    def _assign(self, pending: Sequence[Unfingerprinted]) -> int:
        return len(self.index.assign(fingerprint_articles(pending)))


class CleanText(Protocol):
    """What fingerprinting reads of an article, written (``Article``) or stored."""

    @property
    def url(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def published_at(self) -> datetime | None: ...


def fingerprint_articles(articles: Iterable[CleanText]) -> list[FingerprintedText]:
    """Fingerprint the clean text of each article."""
    return [
        FingerprintedText(
            url=a.url,
            fingerprint=fingerprint_text(a.text, a.content_hash),
            published_at=a.published_at,
            text_chars=len(a.text),
        )
        for a in articles
    ]


def copy_stage(settings: CopySettings, store: Store) -> CopyStage:
    """The copy stage on the store's database, caught up with what is already stored."""
    stage = CopyStage(CopyIndex(store.engine, settings))
    stage.catch_up()
    return stage
