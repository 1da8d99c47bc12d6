"""The story tier as a batch stage: after each batch is stored, cluster its articles.

It runs after the copy stage, so each article's copy cluster is known and copies of
one text land in one story (``pipeline.stories`` explains the rule).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Engine

from pipeline.records import Article
from pipeline.stories import StorySettings, story_doc
from storage.copies import CopyIndex
from storage.stories import StoryStore

logger = logging.getLogger(__name__)

# URL -> copy cluster id for the URLs given (those the copy tier has placed).
CopyLookup = Callable[[Sequence[str]], Mapping[str, int]]


class StoryStage:
    """Puts every stored article of a batch into a story (``BatchStage``)."""

    def __init__(
        self, settings: StorySettings, stories: StoryStore, copies: CopyLookup | None = None
    ) -> None:
        self.settings = settings
        self.stories = stories
        self.copies = copies

    def before_save(self, articles: list[Article]) -> list[Article]:
        return articles

    def after_save(self, articles: list[Article]) -> None:
        if not articles:
            return
        copy_ids = self.copies([a.url for a in articles]) if self.copies else {}
        docs = [
            story_doc(a.url, a.title, a.text, a.published_at, self.settings, copy_ids.get(a.url))
            for a in articles
        ]
        assigned = self.stories.cluster(docs, self.settings)
        logger.debug(
            "Story tier: %d articles in %d stories", len(assigned), len(set(assigned.values()))
        )


def story_stage(settings: StorySettings, engine: Engine) -> StoryStage:
    """The story stage over ``engine``, reading copy clusters from the copy index."""
    index = CopyIndex(engine)

    def copies(urls: Sequence[str]) -> dict[str, int]:
        return {str(k): v for k, v in index.copies_of(urls).items() if isinstance(k, str)}

    return StoryStage(settings, StoryStore(engine), copies)
