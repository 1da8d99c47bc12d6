"""Story clustering: put each new article in the most similar active story, or a new one.

Independent reports of one event share its rare words and names, not its sentences,
so the story tier compares weighted term vectors (``pipeline.terms``), not shingles.
It is incremental: an article is compared only with stories that

- share one of its heaviest terms, found through an inverted index of each story's
  top terms (never a scan of the corpus), capped per term to the most recently
  active stories, so the cost per article does not grow with the corpus; and
- were active within a time window around its publish time.

An article whose copy cluster already has a story joins that story: copies of one
text are always in one story, and add nothing to the term statistics.

An article without a publish date could have been written at any time, so it is
compared with stories regardless of time, and does not move its story's time bounds;
a story none of whose articles has a date matches any date likewise.

The stored state comes through the ``StoryIndex`` protocol (``storage.stories``
implements it); ``plan_batch`` is otherwise pure and deterministic: the same
articles in the same order against the same stored state give the same plan.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.terms import (
    add_into,
    cosine,
    term_counts,
    tfidf_vector,
    top_terms,
    truncate,
)


class StorySettings(BaseModel):
    """How articles are grouped into stories (the ``stories`` section of the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    window_days: float = Field(3.0, gt=0)  # a story is a candidate within this of its dates
    threshold: float = Field(0.25, gt=0, le=1)  # least cosine to join a story
    title_weight: float = Field(2.0, ge=0)  # extra count of each title word
    name_weight: float = Field(2.0, ge=0)  # count of each capitalised multi-word name
    year_weight: float = Field(3.0, ge=1)  # years name events: 2008's quake is not 2013's
    # Extra count of each word of an article's lead (its first paragraph after the
    # title): the lead states the event, later paragraphs its background, which is
    # where two look-alike events meet. ECB+ pairwise F1 over 12 shuffles, tuned
    # topics 0.823 -> 0.832, held-out 0.810 -> 0.816: a small gain, within noise.
    lead_weight: float = Field(2.0, ge=0)
    lead_paragraphs: int = Field(1, ge=0, le=50)  # paragraphs (lines) in the lead
    query_terms: int = Field(10, ge=1, le=200)  # an article's heaviest terms looked up
    candidates: int = Field(5, ge=1, le=200)  # stories scored per article
    # Stored stories sharing fewer of the article's query terms are not read. 2 saves
    # about 15% of the tier's CPU on synthetic text but costs recall (ECB+ held-out
    # topics: F1 0.810 -> 0.799), so by default every listed story may be scored.
    min_shared_terms: int = Field(1, ge=1, le=200)
    vector_terms: int = Field(100, ge=10, le=2000)  # terms kept in a story's vector
    index_terms: int = Field(15, ge=1, le=500)  # a story's terms in the inverted index
    postings_per_term: int = Field(50, ge=1, le=10_000)  # stories looked at per term


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryDoc:
    """One article as the story tier sees it: weighted term counts and a time."""

    key: str  # the canonical URL
    published_at: datetime | None  # tz-aware UTC; None when no date was found
    counts: Mapping[str, float]  # weighted term frequencies (``term_counts``)
    copy_id: int | None = None  # its copy cluster, when the copy tier ran


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A story's state: the sum of its articles' unit vectors, and its time bounds.

    ``id`` is negative for a story created in the batch being planned; storage gives
    it a real id when it writes the plan.
    """

    id: int
    vector: Mapping[str, float]  # sum of member unit vectors, heaviest terms only
    members: int
    first_at: datetime | None  # earliest dated member; None when none has a date
    last_at: datetime | None

    norm: float = field(init=False, repr=False, compare=False)  # of ``vector``

    def __post_init__(self) -> None:
        # Computed once: every article of a batch may score the same story.
        norm = math.sqrt(sum(w * w for w in self.vector.values()))
        object.__setattr__(self, "norm", norm)

    def index_terms(self, n: int) -> list[str]:
        """The terms under which the inverted index lists this story."""
        return top_terms(self.vector, n)


@dataclass(frozen=True, slots=True)
class Window:
    """The span of time whose stories an article may join (None: any time)."""

    start: datetime
    end: datetime


class StoryIndex(Protocol):
    """The stored state the story tier reads (``storage.stories`` implements it)."""

    def frequencies(self, terms: Iterable[str]) -> tuple[int, Mapping[str, int]]:
        """Documents counted so far, and the document frequency of each known term."""
        ...

    def candidates(
        self,
        terms: Sequence[str],
        window: Window | None,
        per_term: int,
        limit: int,
        min_shared: int = 1,
    ) -> list[Story]:
        """The ``limit`` stories listed under most of ``terms`` (ties: lowest id), and
        under at least ``min_shared`` of them, that overlap ``window`` (any time when
        None), looking at the ``per_term`` most recently active stories of each term."""
        ...

    def story(self, story_id: int) -> Story | None:
        """The stored story with this id, if there is one."""
        ...

    def stories_of_copies(self, copy_ids: Iterable[int]) -> Mapping[int, int]:
        """The story of each copy cluster that already has one."""
        ...


@dataclass(slots=True)
class BatchPlan:
    """What one batch changes: stories, term statistics and each article's story."""

    assignments: dict[str, int] = field(default_factory=dict)  # key -> story id (<0: new)
    stories: dict[int, Story] = field(default_factory=dict)  # new state of touched stories
    frequencies: Counter[str] = field(default_factory=Counter)  # df increments
    documents: int = 0  # documents added to the statistics
    created: int = 0  # stories created, so the next new one is -(created + 1)
    copies: dict[int, int] = field(default_factory=dict)  # copy id -> story id (<0: new)
    # The index terms of the touched stories, so later articles of the batch find them.
    postings: dict[str, set[int]] = field(default_factory=dict, repr=False)
    _terms: dict[int, list[str]] = field(default_factory=dict, repr=False)

    def put(self, story: Story, index_terms: int) -> None:
        """Record the new state of a story and re-list it under its top terms."""
        for term in self._terms.get(story.id, ()):
            self.postings[term].discard(story.id)
        self.stories[story.id] = story
        self._terms[story.id] = terms = story.index_terms(index_terms)
        for term in terms:
            self.postings.setdefault(term, set()).add(story.id)

    @property
    def new_stories(self) -> list[Story]:
        """Stories created by this batch, in creation order (ids -1, -2, ...)."""
        return [self.stories[i] for i in sorted((i for i in self.stories if i < 0), reverse=True)]


def story_doc(
    key: str,
    title: str,
    text: str,
    published_at: datetime | None,
    settings: StorySettings,
    copy_id: int | None = None,
) -> StoryDoc:
    """The story tier's view of an article."""
    counts = term_counts(
        title,
        text,
        title_weight=settings.title_weight,
        name_weight=settings.name_weight,
        year_weight=settings.year_weight,
        lead_weight=settings.lead_weight,
        lead_paragraphs=settings.lead_paragraphs,
    )
    return StoryDoc(key=key, published_at=published_at, counts=counts, copy_id=copy_id)


def plan_batch(docs: Sequence[StoryDoc], index: StoryIndex, settings: StorySettings) -> BatchPlan:
    """Decide the story of each article in order, each seeing the ones before it."""
    plan = BatchPlan()
    stored_n, stored = index.frequencies({t for d in docs for t in d.counts})
    df = dict(stored)  # plus this batch's articles as they are counted
    copy_stories = dict(index.stories_of_copies({d.copy_id for d in docs if d.copy_id is not None}))
    for doc in docs:
        if doc.copy_id is not None and doc.copy_id in copy_stories:
            story_id = copy_stories[doc.copy_id]
            story = plan.stories.get(story_id) or index.story(story_id)
            if story is not None:
                plan.put(_stretch(story, doc.published_at), settings.index_terms)
                plan.assignments[doc.key] = story_id
                continue
        documents = stored_n + plan.documents
        vector = tfidf_vector(doc.counts, df, documents)
        story = _best_story(vector, df, doc.published_at, plan, index, settings)
        if story is None:
            plan.created += 1
            story = Story(
                id=-plan.created,
                vector={},
                members=0,
                first_at=None,
                last_at=None,
            )
        plan.put(_absorb(story, vector, doc.published_at, settings), settings.index_terms)
        plan.assignments[doc.key] = story.id
        plan.frequencies.update(doc.counts.keys())
        for term in doc.counts:
            df[term] = df.get(term, 0) + 1
        plan.documents += 1
        if doc.copy_id is not None:
            copy_stories[doc.copy_id] = story.id
            plan.copies[doc.copy_id] = story.id
    return plan


def window_around(when: datetime | None, days: float) -> Window | None:
    """The candidate window of an article published at ``when`` (None: no bound)."""
    if when is None:
        return None
    span = timedelta(days=days)
    return Window(when - span, when + span)


def overlaps(story: Story, window: Window | None) -> bool:
    """Whether ``story`` was active in ``window`` (undated stories always are)."""
    if window is None:
        return True
    if story.first_at is not None and story.first_at > window.end:
        return False
    return story.last_at is None or story.last_at >= window.start


def similarity(vector: Mapping[str, float], story: Story) -> float:
    """Cosine of an article's unit vector with the story's centroid."""
    norm = story.norm
    return cosine(vector, story.vector) / norm if norm else 0.0


def _best_story(
    vector: Mapping[str, float],
    df: Mapping[str, int],
    when: datetime | None,
    plan: BatchPlan,
    index: StoryIndex,
    settings: StorySettings,
) -> Story | None:
    """The most similar candidate story at or above the threshold, or None.

    The lookup uses the article's heaviest terms among those seen before: a term no
    earlier article had weighs most of all, yet no story can be listed under it.
    """
    seen = {term: w for term, w in vector.items() if df.get(term)}
    query = top_terms(seen, settings.query_terms)
    window = window_around(when, settings.window_days)
    found: dict[int, Story] = {}
    for story in index.candidates(
        query, window, settings.postings_per_term, settings.candidates, settings.min_shared_terms
    ):
        found[story.id] = story
    # Stories touched earlier in this batch: their new state replaces the stored one,
    # and new ones are found through their own top terms, as the index would.
    touched = {i for i in found if i in plan.stories}
    touched.update(i for term in query for i in plan.postings.get(term, ()))
    for story_id in touched:
        story = plan.stories[story_id]
        if overlaps(story, window):
            found[story_id] = story
        else:
            found.pop(story_id, None)
    # Score the stories sharing the most query terms, ties to the oldest story.
    terms = set(query)
    ranked = sorted(
        found.values(),
        key=lambda s: (-len(terms.intersection(s.vector)), _order(s.id)),
    )[: settings.candidates]
    best: Story | None = None
    best_score = settings.threshold
    for story in ranked:
        score = similarity(vector, story)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = story, score
    return best


def _order(story_id: int) -> tuple[int, int]:
    """Sort key: stored stories by id, then this batch's new ones by creation."""
    return (0, story_id) if story_id > 0 else (1, -story_id)


def _absorb(
    story: Story, vector: Mapping[str, float], when: datetime | None, settings: StorySettings
) -> Story:
    """``story`` with one more article of unit ``vector`` published at ``when``."""
    total = dict(story.vector)
    add_into(total, vector.items())
    # One ``replace``: each one computes the new vector's norm again.
    first, last = _bounds(story, when)
    return replace(
        story,
        vector=truncate(total, settings.vector_terms),
        members=story.members + 1,
        first_at=first,
        last_at=last,
    )


def _stretch(story: Story, when: datetime | None) -> Story:
    """``story`` with one more member, its time bounds widened to ``when``."""
    first, last = _bounds(story, when)
    return replace(story, members=story.members + 1, first_at=first, last_at=last)


def _bounds(story: Story, when: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The story's time bounds widened to ``when`` (unchanged when it is None)."""
    if when is None:
        return story.first_at, story.last_at
    first = when if story.first_at is None else min(story.first_at, when)
    last = when if story.last_at is None else max(story.last_at, when)
    return first, last
