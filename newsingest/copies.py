"""The copy stage: after each batch is written, put every article in its copy cluster.

Runs in the process that owns the database, first among the batch stages, so the
stages after it (the story stage) find every document of the batch with a copy cluster
id: ``storage.copies.CopyIndex(engine).copy_of(document_id or url)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pipeline.copies import CopySettings, FingerprintedText
from pipeline.fingerprint import fingerprint_text
from pipeline.records import Article
from storage.copies import CopyIndex
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
        """Assign clusters to stored articles that have none; returns how many.

        Articles stored before the copy stage existed, or by a process that stopped
        between writing a batch and assigning it, would otherwise never get one: a
        stored URL is not fetched again.
        """
        done = last = 0
        while pending := self.index.unassigned(_CATCH_UP_BATCH, after=last):
            last = pending[-1].id
            texts = [
                FingerprintedText(
                    url=p.url,
                    fingerprint=fingerprint_text(p.text, p.content_hash),
                    published_at=p.published_at,
                    text_chars=len(p.text),
                )
                for p in pending
            ]
            done += len(self.index.assign(texts))
        if done:
            logger.info("copy stage: caught up %d stored articles without a copy cluster", done)
        return done


def fingerprint_articles(articles: Iterable[Article]) -> list[FingerprintedText]:
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
