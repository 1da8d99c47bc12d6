"""save_batch, urls_to_skip and the document queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.records import Article, Failure
from storage.errors import UnknownSourceError
from storage.store import Store
from tests.storage.factories import T0, article, failure

URL = "http://127.0.0.1/news/1"


def test_new_articles_are_stored(store: Store) -> None:
    result = store.save_batch([article(f"http://127.0.0.1/{i}") for i in range(3)])
    assert (result.stored, result.updated, result.unchanged) == (3, 0, 0)
    assert not result.failed
    doc = store.document("http://127.0.0.1/1")
    assert doc is not None
    assert doc.status == "ok" and doc.reason is None and doc.stage is None
    assert doc.source == "alpha"
    assert doc.authors == ("Ada Lovelace", "Grace Hopper")
    assert doc.final_url == "http://127.0.0.1/1?from=feed"
    assert doc.attempts == 1


def test_same_batch_twice_is_idempotent(store: Store) -> None:
    batch: list[Article | Failure] = [article(f"http://127.0.0.1/{i}") for i in range(4)]
    batch.append(failure("http://127.0.0.1/gone", "http_404", status=404))
    store.save_batch(batch)
    rows_before = store.count_documents(status=None)

    again = store.save_batch(batch)
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 4)
    assert again.failed == {"http_404": 1}
    assert store.count_documents(status=None) == rows_before == 5


def test_unchanged_article_only_moves_fetched_at(store: Store) -> None:
    store.save_batch([article(URL)])
    later = T0 + timedelta(days=1)
    store.save_batch([article(URL, at=later, title="Another title")])
    doc = store.document(URL)
    assert doc is not None
    assert doc.fetched_at == later
    assert doc.updated_at == T0 and doc.first_seen_at == T0
    assert doc.title == "A title"  # same hash: the content is not rewritten


def test_changed_text_updates_and_keeps_first_seen(store: Store) -> None:
    store.save_batch([article(URL, text="First version.")])
    later = T0 + timedelta(hours=3)
    result = store.save_batch(
        [article(URL, text="Corrected version.", title="Corrected", at=later, source="beta")]
    )
    assert (result.stored, result.updated, result.unchanged) == (0, 1, 0)
    doc = store.document(URL)
    assert doc is not None
    assert doc.text == "Corrected version." and doc.title == "Corrected"
    assert doc.first_seen_at == T0
    assert doc.fetched_at == doc.updated_at == later
    assert doc.source == "alpha"  # the source that found it first
    assert store.count_documents(status=None) == 1


def test_failure_never_overwrites_an_ok_document(store: Store) -> None:
    store.save_batch([article(URL, text="Good text.")])
    result = store.save_batch([failure(URL, "timeout", at=T0 + timedelta(days=1))])
    assert result.failed == {"timeout": 1}
    assert (result.stored, result.updated, result.unchanged) == (0, 0, 0)
    doc = store.document(URL)
    assert doc is not None
    assert doc.status == "ok" and doc.text == "Good text." and doc.reason is None
    assert doc.attempts == 1


def test_failures_are_recorded_and_counted(store: Store) -> None:
    for n in range(3):
        store.save_batch([failure(URL, "http_503", status=503, at=T0 + timedelta(hours=n))])
    doc = store.document(URL)
    assert doc is not None
    assert (doc.status, doc.stage, doc.reason, doc.http_status) == ("failed", "fetch",
                                                                    "http_503", 503)
    assert doc.attempts == 3
    assert doc.first_seen_at == T0 and doc.updated_at == T0 + timedelta(hours=2)
    assert doc.text is None and doc.authors == ()
    assert store.count_documents() == 0
    assert store.count_documents(status="failed") == 1


def test_failed_url_that_later_succeeds_becomes_ok(store: Store) -> None:
    store.save_batch([failure(URL, "timeout", status=None)])
    later = T0 + timedelta(hours=1)
    result = store.save_batch([article(URL, at=later)])
    assert result.stored == 1
    doc = store.document(URL)
    assert doc is not None
    assert doc.status == "ok" and doc.reason is None and doc.detail is None
    assert doc.first_seen_at == T0 and doc.attempts == 2


def test_duplicate_urls_in_a_batch_last_wins(store: Store) -> None:
    result = store.save_batch([
        article(URL, text="Draft."),
        article(URL, text="Final."),
        failure("http://127.0.0.1/2", "timeout"),
        article("http://127.0.0.1/2", text="Fetched on retry."),
    ])
    assert (result.stored, result.updated, result.unchanged) == (2, 0, 0)
    assert not result.failed
    doc = store.document(URL)
    assert doc is not None and doc.text == "Final."


def test_unknown_source_is_refused_clearly(store: Store) -> None:
    with pytest.raises(UnknownSourceError, match=r"'nowhere'.*sync_sources"):
        store.save_batch([article(URL, source="nowhere")])
    assert store.count_documents(status=None) == 0


def test_urls_to_skip(store: Store) -> None:
    stored = "http://127.0.0.1/ok"
    permanent = {
        reason: f"http://127.0.0.1/{reason}"
        for reason in ("http_404", "http_410", "not_html", "robots_disallowed",
                       "too_large", "no_main_text")
    }
    retry = "http://127.0.0.1/flaky"
    exhausted = "http://127.0.0.1/down"
    unseen = "http://127.0.0.1/new"
    store.save_batch([
        article(stored),
        *(failure(url, reason) for reason, url in permanent.items()),
        failure(retry, "timeout"),
        failure(exhausted, "http_503"),
    ])
    store.save_batch([failure(exhausted, "http_503")])
    store.save_batch([failure(exhausted, "http_503")])

    asked = [stored, *permanent.values(), retry, exhausted, unseen, stored]
    assert store.urls_to_skip(asked) == {stored, *permanent.values(), exhausted}
    assert store.urls_to_skip(asked, max_attempts=4) == {stored, *permanent.values()}
    assert store.urls_to_skip(asked, max_attempts=1) == {
        stored, *permanent.values(), retry, exhausted
    }
    assert store.urls_to_skip([]) == set()


def test_large_batches_cross_the_in_clause_chunks(store: Store) -> None:
    urls = [f"http://127.0.0.1/bulk/{i}" for i in range(1234)]
    assert store.save_batch([article(u, text=u) for u in urls]).stored == 1234
    again = store.save_batch([article(u, text=u) for u in urls])
    assert again.unchanged == 1234
    assert store.urls_to_skip([*urls, "http://127.0.0.1/other"]) == set(urls)


def test_document_queries(store: Store) -> None:
    store.save_batch([
        article("http://127.0.0.1/a1"),
        article("http://127.0.0.1/a2"),
        article("http://127.0.0.1/b1", source="beta"),
        failure("http://127.0.0.1/a3", "no_main_text", stage="extract", status=200),
    ])
    assert store.document("http://127.0.0.1/nope") is None
    assert [d.url for d in store.documents()] == [
        "http://127.0.0.1/a1", "http://127.0.0.1/a2", "http://127.0.0.1/b1"
    ]
    assert [d.url for d in store.documents("beta")] == ["http://127.0.0.1/b1"]
    assert store.count_documents() == 3
    assert store.count_documents("alpha") == 2
    assert store.count_documents("alpha", status="failed") == 1
    assert store.count_documents(status=None) == 4
