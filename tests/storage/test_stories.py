"""The story tier over a real database (SQLite and PostgreSQL), migrated by Alembic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from pipeline.stories import StoryDoc, StorySettings, story_doc
from storage.database import create_engine_for
from storage.migrate import ensure_schema
from storage.settings import DatabaseSettings
from storage.stories import StoryPostingRow, StoryStore, StoryTermRow, span_keys
from tests.stories_cases import CHILE, CHILE_AT, FOOTBALL, JAPAN, JAPAN_AT

SETTINGS = StorySettings()


def open_engine(url: str) -> Engine:
    engine = create_engine_for(DatabaseSettings(url=url))
    ensure_schema(engine, auto_migrate=True)
    return engine


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


def doc(
    key: str,
    report: tuple[str, str],
    when: datetime | None = None,
    copy_id: int | None = None,
    settings: StorySettings = SETTINGS,
) -> StoryDoc:
    title, text = report
    return story_doc(key, title, text, when, settings, copy_id)


def earthquake_docs(dated: bool = True) -> list[StoryDoc]:
    """Both earthquakes' reports and the football report, interleaved."""
    chile = [doc(f"chile-{i}", r, CHILE_AT if dated else None) for i, r in enumerate(CHILE)]
    japan = [doc(f"japan-{i}", r, JAPAN_AT if dated else None) for i, r in enumerate(JAPAN)]
    football = doc("football", FOOTBALL, JAPAN_AT if dated else None)
    return [chile[0], japan[0], chile[1], football, japan[1], chile[2]]


def groups(assigned: dict[str, int]) -> list[list[str]]:
    """The partition of the keys by story, independent of the ids."""
    by_story: dict[int, list[str]] = {}
    for key, story in assigned.items():
        by_story.setdefault(story, []).append(key)
    return sorted(sorted(keys) for keys in by_story.values())


EXPECTED = [
    ["chile-0", "chile-1", "chile-2"],
    ["football"],
    ["japan-0", "japan-1"],
]


def cluster_one_by_one(store: StoryStore, docs: Sequence[StoryDoc]) -> dict[str, int]:
    assigned: dict[str, int] = {}
    for item in docs:
        assigned.update(store.cluster([item], SETTINGS))
    return assigned


@pytest.mark.parametrize("dated", [True, False], ids=["dated", "undated"])
def test_reports_of_one_event_join_and_two_events_of_a_kind_stay_apart(
    engine: Engine, dated: bool
) -> None:
    store = StoryStore(engine)
    assert groups(cluster_one_by_one(store, earthquake_docs(dated))) == EXPECTED


def test_one_batch_clusters_like_one_document_at_a_time(engine: Engine) -> None:
    assigned = StoryStore(engine).cluster(earthquake_docs(), SETTINGS)
    assert groups(assigned) == EXPECTED


def test_a_story_keeps_its_size_and_time_bounds(engine: Engine) -> None:
    store = StoryStore(engine)
    later = CHILE_AT + timedelta(days=1)
    docs = [
        doc("chile-0", CHILE[0], CHILE_AT),
        doc("chile-1", CHILE[1], later),
        doc("chile-2", CHILE[2], None),  # an undated report joins without moving the bounds
    ]
    assigned = cluster_one_by_one(store, docs)
    [story_id] = set(assigned.values())
    story = store.story(story_id)
    assert story is not None
    assert (story.members, story.first_at, story.last_at) == (3, CHILE_AT, later)
    assert store.story_ids(["chile-1", "nowhere"]) == {"chile-1": story_id}


def test_reports_outside_the_time_window_start_a_new_story(engine: Engine) -> None:
    store = StoryStore(engine)
    first = store.cluster([doc("chile-0", CHILE[0], CHILE_AT)], SETTINGS)
    near = store.cluster([doc("chile-1", CHILE[1], CHILE_AT + timedelta(days=2))], SETTINGS)
    far = store.cluster([doc("chile-2", CHILE[2], CHILE_AT + timedelta(days=10))], SETTINGS)
    assert near["chile-1"] == first["chile-0"]
    assert far["chile-2"] != first["chile-0"]
    # The window is configurable: a 15-day window takes in the late report.
    wide = SETTINGS.model_copy(update={"window_days": 15.0})
    late = store.cluster([doc("chile-3", CHILE[2], CHILE_AT + timedelta(days=12))], wide)
    assert late["chile-3"] in {first["chile-0"], far["chile-2"]}


def test_the_same_input_in_the_same_order_gives_the_same_stories(sqlite_url: str) -> None:
    docs = earthquake_docs(dated=False)
    results = []
    for name in ("one", "two"):
        engine = open_engine(sqlite_url.replace("news.db", f"{name}.db"))
        try:
            store = StoryStore(engine)
            results.append(
                {**store.cluster(docs[:3], SETTINGS), **store.cluster(docs[3:], SETTINGS)}
            )
        finally:
            engine.dispose()
    assert results[0] == results[1]  # the same ids, not only the same partition


def test_stories_survive_a_restart(database_url: str) -> None:
    docs = earthquake_docs()
    engine = open_engine(database_url)
    try:
        before = StoryStore(engine).cluster(docs[:2], SETTINGS)
    finally:
        engine.dispose()
    engine = open_engine(database_url)
    try:
        after = StoryStore(engine).cluster(docs[2:], SETTINGS)
    finally:
        engine.dispose()
    assert groups({**before, **after}) == EXPECTED
    assert after["chile-1"] == before["chile-0"]


def test_clustering_a_batch_again_changes_nothing(engine: Engine) -> None:
    store = StoryStore(engine)
    docs = earthquake_docs()
    first = store.cluster(docs, SETTINGS)
    sizes = {i: store.story(i).members for i in set(first.values())}  # type: ignore[union-attr]
    assert store.cluster(docs, SETTINGS) == first
    assert {i: store.story(i).members for i in sizes} == sizes  # type: ignore[union-attr]


def test_copies_of_one_text_join_the_story_of_their_copy_cluster(engine: Engine) -> None:
    store = StoryStore(engine)
    first = store.cluster([doc("chile-0", CHILE[0], CHILE_AT, copy_id=7)], SETTINGS)
    # A copy whose text (after a site's edits) reads like the other event still
    # follows its copy cluster, in a later batch and within the same one.
    later = store.cluster(
        [
            doc("copy-a", JAPAN[0], CHILE_AT, copy_id=7),
            doc("copy-b", FOOTBALL, None, copy_id=8),
            doc("copy-c", CHILE[1], CHILE_AT, copy_id=8),
        ],
        SETTINGS,
    )
    assert later["copy-a"] == first["chile-0"]
    assert later["copy-c"] == later["copy-b"]
    assert store.story(first["chile-0"]).members == 2  # type: ignore[union-attr]


def test_postings_lists_stay_bounded(engine: Engine) -> None:
    """Many stories sharing a term: the index lists at most twice the cap per term."""
    settings = SETTINGS.model_copy(update={"postings_per_term": 2, "threshold": 0.99})
    store = StoryStore(engine)
    for n in range(12):
        text = f"The harbour festival number {n} opened with lanterns and music item{n}."
        store.cluster([story_doc(f"d{n}", "", text, None, settings)], settings)
    with engine.connect() as conn:
        longest = conn.scalar(
            select(func.count())
            .select_from(StoryPostingRow)
            .group_by(StoryPostingRow.term)
            .order_by(func.count().desc())
            .limit(1)
        )
    assert longest is not None and longest <= 4


def listed(engine: Engine) -> tuple[set[tuple[str, int, int]], dict[str, int]]:
    """The index's rows as (term, story, last_key), and each term's postings counter."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(StoryPostingRow.term, StoryPostingRow.story_id, StoryPostingRow.last_key)
        )
        counters = conn.execute(select(StoryTermRow.term, StoryTermRow.postings))
        return {tuple(row) for row in rows}, {t: n for t, n in counters if n}  # type: ignore[misc]


@pytest.mark.parametrize("cap", [50, 2], ids=["untrimmed", "trimmed"])
def test_a_story_is_listed_under_its_current_terms_and_span_as_it_grows(
    engine: Engine, cap: int
) -> None:
    """Joining a story moves its span and its top terms; the index follows, batch
    after batch, also for stories whose rows a trim already dropped, and each term's
    counter matches the stories listed under it."""
    settings = SETTINGS.model_copy(update={"postings_per_term": cap, "threshold": 0.9})
    store = StoryStore(engine)
    assigned: dict[str, int] = {}
    # Twelve stories sharing most of their terms; then the oldest ones, whose rows
    # the trims drop first, and the newest grow by a later report.
    for step, (n, key) in enumerate(
        [(n, f"d{n}") for n in range(12)] + [(n, f"again{n}") for n in (1, 2, 11)]
    ):
        text = f"The harbour festival number {n} opened with lanterns and music item{n}."
        when = CHILE_AT + timedelta(hours=step)
        assigned.update(store.cluster([story_doc(key, "", text, when, settings)], settings))
        rows, counters = listed(engine)
        stories = [store.story(i) for i in set(assigned.values())]
        expected = {
            (term, s.id, span_keys(s.first_at, s.last_at)[1])
            for s in stories
            if s is not None
            for term in s.index_terms(settings.index_terms)
        }
        if cap == 50:
            assert rows == expected
        else:  # a trim drops rows of the least recently active stories, and only rows
            assert rows <= expected
        assert counters == dict(Counter(term for term, _, _ in rows))
    assert [assigned[f"again{n}"] == assigned[f"d{n}"] for n in (1, 2, 11)] == [True] * 3
    assert len(set(assigned.values())) == 12
    if cap == 2:
        assert len(rows) < len(expected)


def test_a_text_with_an_overlong_word_is_clustered(engine: Engine) -> None:
    """A base64 blob in a body must not break the batch (PostgreSQL key size)."""
    title, text = CHILE[0]
    blob = "QUJD" * 1000
    assigned = StoryStore(engine).cluster([doc("blob", (title, f"{text} {blob}"))], SETTINGS)
    assert set(assigned) == {"blob"}


def test_min_shared_terms_skips_stories_sharing_too_few_query_terms(engine: Engine) -> None:
    store = StoryStore(engine)
    loose = SETTINGS.model_copy(update={"threshold": 0.1})
    strict = loose.model_copy(update={"min_shared_terms": 2})

    def words(key: str, counts: dict[str, float]) -> StoryDoc:
        return StoryDoc(key=key, published_at=None, counts=counts)

    # A story of twenty equally weighted words, listed under (among others) w0 and w1.
    first = store.cluster([words("a", {f"w{i}": 1.0 for i in range(20)})], loose)
    # Each later article knows only one of its terms from before, so its one query
    # term is all it can share with the story; its cosine with it is about 0.2.
    strict_result = store.cluster([words("b", {"w0": 20.0, "x1": 1.0})], strict)
    loose_result = store.cluster([words("c", {"w1": 20.0, "y1": 1.0})], loose)
    assert strict_result["b"] != first["a"]
    assert loose_result["c"] == first["a"]
