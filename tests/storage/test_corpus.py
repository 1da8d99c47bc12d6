"""The corpus as readers get it: filters, change order, position tokens, named cursors.

Each test runs on SQLite and PostgreSQL. Documents are written the way the pipeline
writes them (``Store.save_batch``, then the copy index, then the story store), so the
tests see what a consumer sees between and after those steps.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from newsingest.copies import fingerprint_articles
from pipeline.records import Article
from pipeline.stories import StorySettings, story_doc
from storage.copies import CopyIndex
from storage.corpus import Corpus, CorpusDocument, CorpusFilter
from storage.cursors import mark_changed
from storage.database import write_engine
from storage.errors import BadCursorError
from storage.models import Document
from storage.rows import article_values
from storage.store import Store
from storage.stories import StoryStore
from tests.storage.factories import T0, article, failure

WIRE = (
    "The harbour authority approved the new container terminal on Tuesday after "
    "a two-year review, clearing the way for construction to begin in the spring. "
    "Officials said the terminal would double the port's capacity by 2030."
)


@pytest.fixture
def corpus(store: Store) -> Corpus:
    return Corpus(store.engine)


def urls(documents: list[CorpusDocument]) -> list[str]:
    return [d.url for d in documents]


def read_all(corpus: Corpus, filters: CorpusFilter | None = None) -> list[str]:
    return urls(list(corpus.documents(filters or CorpusFilter())))


def assign_copies(engine: Engine, articles: list[Article]) -> dict[str, int]:
    return CopyIndex(engine).assign(fingerprint_articles(articles))


def assign_stories(engine: Engine, articles: list[Article]) -> dict[str, int]:
    settings = StorySettings()
    copies = {str(k): v for k, v in CopyIndex(engine).copies_of([a.url for a in articles]).items()}
    docs = [
        story_doc(a.url, a.title, a.text, a.published_at, settings, copies.get(a.url))
        for a in articles
    ]
    return StoryStore(engine).cluster(docs, settings)


# -- what a read returns ---------------------------------------------------------------


def test_a_read_returns_stored_articles_with_their_fields(store: Store, corpus: Corpus) -> None:
    stored = article("http://a.test/1", text=WIRE, title="Terminal approved")
    store.save_batch([stored, failure("http://a.test/broken")])

    [document] = list(corpus.documents())
    assert document.url == stored.url
    assert document.final_url == stored.final_url
    assert document.source == "alpha"
    assert document.title == "Terminal approved"
    assert document.authors == ("Ada Lovelace", "Grace Hopper")
    assert document.language == "en"
    assert document.published_at == stored.published_at
    assert document.fetched_at == T0
    assert document.first_seen_at == T0
    assert document.text == WIRE
    assert document.content_hash == stored.content_hash
    # Not through the copy and story stages yet.
    assert (document.copy_id, document.is_representative, document.story_id) == (
        None,
        False,
        None,
    )
    assert corpus.document(document.id) == document
    failed = store.document("http://a.test/broken")
    assert failed is not None and corpus.document(failed.id) is None
    assert corpus.document(10_000) is None


def test_filters(store: Store, corpus: Corpus) -> None:
    hour = timedelta(hours=1)
    store.save_batch(
        [
            article("http://a.test/early", published_at=T0 - 10 * hour, at=T0),
            article("http://a.test/late", published_at=T0 + 2 * hour, at=T0 + 3 * hour),
            article("http://a.test/undated", published_at=None, at=T0 + 5 * hour),
            replace(article("http://b.test/de", source="beta"), language="de"),
        ]
    )

    window = CorpusFilter(since=T0 - 2 * hour, until=T0 + 3 * hour)
    assert read_all(corpus, window) == ["http://a.test/late", "http://b.test/de"]
    # since is inclusive, until exclusive; documents without the date are left out.
    fetched = CorpusFilter(since=T0 + 3 * hour, until=T0 + 5 * hour, time_field="fetched")
    assert read_all(corpus, fetched) == ["http://a.test/late"]
    assert read_all(corpus, CorpusFilter(sources=("beta",))) == ["http://b.test/de"]
    assert read_all(corpus, CorpusFilter(languages=("de", "fr"))) == ["http://b.test/de"]
    assert read_all(corpus, CorpusFilter(sources=("alpha",), languages=("de",))) == []
    assert len(read_all(corpus)) == 4
    with pytest.raises(ValueError, match="since=2024-05-01T12:00:00 has no time zone"):
        CorpusFilter(since=T0.replace(tzinfo=None))


def test_copy_ids_representatives_and_story_filters(store: Store, corpus: Corpus) -> None:
    hour = timedelta(hours=1)
    first = article("http://a.test/wire", text=WIRE, published_at=T0 - 2 * hour)
    copy = article("http://b.test/wire", text=WIRE + " (AP)", source="beta", published_at=T0)
    other = article("http://a.test/other", text="Local team wins the cup final. " * 10)
    batch = [first, copy, other]
    store.save_batch(batch)
    copies = assign_copies(store.engine, batch)
    stories = assign_stories(store.engine, batch)
    assert copies[first.url] == copies[copy.url] != copies[other.url]

    by_url = {d.url: d for d in corpus.documents()}
    assert by_url[first.url].copy_id == by_url[copy.url].copy_id == copies[first.url]
    # The earliest published copy represents the cluster.
    assert by_url[first.url].is_representative and not by_url[copy.url].is_representative
    assert by_url[other.url].is_representative
    assert by_url[first.url].story_id == stories[first.url] == stories[copy.url]

    representatives = read_all(corpus, CorpusFilter(representatives_only=True))
    assert sorted(representatives) == sorted([first.url, other.url])
    story = read_all(corpus, CorpusFilter(story=stories[first.url]))
    assert sorted(story) == sorted([first.url, copy.url])


# -- change order and positions --------------------------------------------------------


def test_pages_of_a_read_join_up_without_gaps_or_repeats(store: Store, corpus: Corpus) -> None:
    for batch in range(3):
        store.save_batch(
            [article(f"http://a.test/{batch}/{i}", text=f"{batch} {i}") for i in range(4)]
        )
    everything = list(corpus.documents())
    assert len(everything) == 12
    # Change order: each batch after the one before.
    assert [d.url.split("/")[3] for d in everything] == ["0"] * 4 + ["1"] * 4 + ["2"] * 4

    paged: list[CorpusDocument] = []
    after = None
    while True:
        page = corpus.read(after=after, limit=5)
        got = list(page)
        paged += got
        after = page.position
        if not got:
            break
    assert paged == everything
    # The position of any document reads on just after it.
    assert list(corpus.documents(after=corpus.position(everything[6]))) == everything[7:]


def test_a_filtered_read_moves_past_what_the_filter_left_out(store: Store, corpus: Corpus) -> None:
    store.save_batch([article("http://a.test/1"), article("http://b.test/1", source="beta")])
    read = corpus.read(CorpusFilter(sources=("beta",)))
    assert urls(list(read)) == ["http://b.test/1"]
    store.save_batch([article("http://a.test/2")])
    assert urls(list(corpus.documents(after=read.position))) == ["http://a.test/2"]


def test_bad_tokens_name_themselves(store: Store, corpus: Corpus) -> None:
    for token in ("not-a-token", "eyJ2Ijo5fQ", ""):
        with pytest.raises(BadCursorError, match=f"'{token}' is not one that newsingest printed"):
            corpus.documents(after=token)
    store.save_batch([article("http://a.test/1")])
    [document] = list(corpus.documents())
    # A token from a database further along (a copy elsewhere) is refused, not trusted.
    ahead = corpus.position(replace(document, change_seq=document.change_seq + 100))
    with pytest.raises(BadCursorError, match="is ahead of every change in this database"):
        list(corpus.documents(after=ahead))
    with pytest.raises(BadCursorError):
        corpus.move_cursor("nightly", "nonsense")


# -- each document once, and again when it changes -------------------------------------


def test_a_cursor_gets_new_and_updated_documents_once(store: Store, corpus: Corpus) -> None:
    def read_with_cursor(name: str) -> list[CorpusDocument]:
        read = corpus.read(after=corpus.cursor(name))
        got = list(read)
        assert read.position is not None
        corpus.move_cursor(name, read.position)
        return got

    assert corpus.cursor("nightly") is None
    store.save_batch([article("http://a.test/1", text="one"), article("http://a.test/2")])
    assert urls(read_with_cursor("nightly")) == ["http://a.test/1", "http://a.test/2"]
    assert read_with_cursor("nightly") == []

    # Documents arrive between reads; one is updated, one re-fetched unchanged.
    store.save_batch(
        [
            article("http://a.test/3"),
            article("http://a.test/1", text="one, corrected", at=T0 + timedelta(hours=1)),
            article("http://a.test/2", at=T0 + timedelta(hours=1)),
            failure("http://a.test/4"),
        ]
    )
    again = read_with_cursor("nightly")
    assert urls(again) == ["http://a.test/1", "http://a.test/3"]
    assert again[0].text == "one, corrected"
    assert read_with_cursor("nightly") == []
    # Another cursor starts from the beginning and sees each document once, as it is now.
    assert [(d.url, d.text) for d in read_with_cursor("archive")] == [
        ("http://a.test/2", "A body of text."),
        ("http://a.test/1", "one, corrected"),
        ("http://a.test/3", "A body of text."),
    ]
    assert set(corpus.cursors()) == {"nightly", "archive"}


def test_documents_come_again_once_the_copy_and_story_stages_have_seen_them(
    store: Store, corpus: Corpus
) -> None:
    later = article("http://a.test/wire", text=WIRE, published_at=T0)
    store.save_batch([later])
    read = corpus.read()
    [bare] = list(read)
    assert bare.copy_id is None and bare.story_id is None

    assign_copies(store.engine, [later])
    copied = corpus.read(after=read.position)
    [document] = list(copied)
    assert document.copy_id is not None and document.is_representative
    assert document.story_id is None

    assign_stories(store.engine, [later])
    storied = corpus.read(after=copied.position)
    [document] = list(storied)
    assert document.story_id is not None

    # An earlier-published copy arrives: it becomes the representative, and the former
    # representative comes again without the flag.
    earlier = article(
        "http://b.test/wire", source="beta", text=WIRE, published_at=T0 - timedelta(1)
    )
    store.save_batch([earlier])
    assign_copies(store.engine, [earlier])
    assign_stories(store.engine, [earlier])
    latest = {d.url: d for d in corpus.documents(after=storied.position)}
    assert latest[earlier.url].is_representative
    assert not latest[later.url].is_representative
    assert latest[earlier.url].story_id == latest[later.url].story_id is not None


def test_a_writer_that_commits_late_is_not_skipped(store: Store, corpus: Corpus) -> None:
    """A transaction holding an early change number and committing after a later writer
    must still reach a reader that read in between (storage.cursors explains how)."""
    store.save_batch([article("http://a.test/0")])
    start = corpus.read()
    list(start)

    slow = article("http://a.test/slow")
    numbered = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with write_engine(store.engine).begin() as conn:
                conn.execute(Document.__table__.insert(), [article_values(slow)])
                mark_changed(conn, urls=[slow.url])
                numbered.set()
                release.wait(30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            numbered.set()

    def fast_writer() -> None:
        try:
            store.save_batch([article("http://a.test/fast")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first = threading.Thread(target=slow_writer)
    first.start()
    assert numbered.wait(30)
    second = threading.Thread(target=fast_writer)
    second.start()
    # Give the second writer every chance to commit before the first: were change
    # numbers not handed out in commit order, the read below would pass the first.
    second.join(timeout=1)
    between = corpus.read(after=start.position)
    seen = urls(list(between))
    release.set()
    first.join(30)
    second.join(30)
    assert not errors
    seen += urls(list(corpus.documents(after=between.position)))
    assert sorted(seen) == ["http://a.test/fast", "http://a.test/slow"]


def test_concurrent_writers_and_a_reader_miss_no_version(store: Store, corpus: Corpus) -> None:
    """Writers keep rewriting documents while a reader follows them with positions: the
    last version the reader saw of each document is its final one."""
    writers, rounds, docs = 3, 8, 4
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(rounds):
                store.save_batch(
                    [
                        article(f"http://a.test/{d}", text=f"version {worker}.{n} of {d}")
                        for d in range(docs)
                    ]
                    + [article(f"http://a.test/w{worker}/{n}")]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    seen: dict[str, str] = {}
    after: str | None = None

    def follow() -> None:
        nonlocal after
        read = corpus.read(after=after)
        for document in read:
            seen[document.url] = document.text
        after = read.position

    while any(t.is_alive() for t in threads):
        follow()
    for thread in threads:
        thread.join()
    follow()
    assert not errors
    final = {d.url: d.text for d in corpus.documents()}
    assert seen == final
    assert len(final) == docs + writers * rounds
