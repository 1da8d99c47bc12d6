"""URL aliases: a variant of a stored URL never makes a second document (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from pipeline.records import Article
from storage.aliases import UrlAliasRow
from storage.store import Store
from tests.storage.factories import T0, article, failure

CANONICAL = "https://www.gazette.co.uk/news/harbour"
MOBILE = "https://m.gazette.co.uk/news/harbour"
AMP = "https://amp.gazette.co.uk/news/harbour"
FILE = "file:///archive/harbour.html"


def met(url: str, *aliases: str, text: str = "A body of text.") -> Article:
    return replace(article(url, text=text), aliases=aliases)


def aliases(store: Store) -> dict[str, str]:
    """Every alias with the URL of its document."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(UrlAliasRow.alias, UrlAliasRow.document_id).order_by(UrlAliasRow.alias)
        ).all()
    urls = {}
    for alias, document_id in rows:
        doc = next(d for d in store.documents() if d.id == document_id)
        urls[alias] = doc.url
    return urls


def alias_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(UrlAliasRow)) or 0)


def test_an_article_is_found_under_each_url_it_was_met_under(store: Store) -> None:
    result = store.save_batch([met(CANONICAL, MOBILE, FILE)])
    assert result.stored == 1
    assert aliases(store) == {FILE: CANONICAL, MOBILE: CANONICAL}
    for url in (CANONICAL, MOBILE, FILE):
        doc = store.document(url)
        assert doc is not None and doc.url == CANONICAL
    assert store.document(AMP) is None
    assert store.urls_to_skip([CANONICAL, MOBILE, FILE, AMP]) == {CANONICAL, MOBILE, FILE}


def test_a_new_variant_declaring_a_stored_canonical_updates_the_one_document(
    store: Store,
) -> None:
    store.save_batch([met(CANONICAL, MOBILE)])
    result = store.save_batch([met(CANONICAL, AMP, text="A corrected body of text.")])
    assert (result.stored, result.updated, result.unchanged) == (0, 1, 0)
    assert store.count_documents(status=None) == 1
    assert aliases(store) == {AMP: CANONICAL, MOBILE: CANONICAL}
    doc = store.document(AMP)
    assert doc is not None and doc.text == "A corrected body of text."


def test_a_document_stored_under_another_url_keeps_it_and_gains_the_canonical(
    store: Store,
) -> None:
    # Stored before its page declared a canonical (or before aliases existed).
    store.save_batch([article(MOBILE)])
    result = store.save_batch([met(CANONICAL, MOBILE, text="The page now names its canonical.")])
    assert (result.stored, result.updated) == (0, 1)
    assert [d.url for d in store.documents()] == [MOBILE]
    assert aliases(store) == {CANONICAL: MOBILE}
    # Met again under the canonical alone: still that one document, unchanged.
    again = store.save_batch([met(CANONICAL, text="The page now names its canonical.")])
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 1)
    assert store.count_documents(status=None) == 1


def test_identify_keys_articles_by_their_stored_documents(store: Store) -> None:
    store.save_batch([article(MOBILE)])
    found = store.identify([met(CANONICAL, MOBILE), article("http://127.0.0.1/new")])
    assert [(a.url, a.aliases) for a in found] == [
        (MOBILE, (CANONICAL,)),
        ("http://127.0.0.1/new", ()),
    ]
    # Two articles of one document: one comes back, the later one, with both's aliases.
    twice = store.identify([met(CANONICAL, FILE, text="first"), met(AMP, CANONICAL, text="second")])
    assert [(a.url, a.text, a.aliases) for a in twice] == [(CANONICAL, "second", (FILE, AMP))]
    assert store.identify([]) == []


def test_variants_in_one_batch_make_one_document(store: Store) -> None:
    result = store.save_batch([met(MOBILE), met(CANONICAL, MOBILE), met(AMP, CANONICAL)])
    assert result.stored == 1
    assert [d.url for d in store.documents()] == [MOBILE]
    assert aliases(store) == {AMP: MOBILE, CANONICAL: MOBILE}


def test_a_failure_for_an_alias_leaves_no_failed_row(store: Store) -> None:
    store.save_batch([met(CANONICAL, MOBILE)])
    result = store.save_batch(
        [failure(MOBILE, "http_503", status=503), failure(CANONICAL, "timeout")]
    )
    assert result.failed == {"http_503": 1, "timeout": 1}
    assert store.count_documents(status=None) == 1
    doc = store.document(MOBILE)
    assert doc is not None and doc.status == "ok"
    # Also when the article that makes it an alias is in the same batch.
    batch = store.save_batch([met(AMP + "/2", AMP + "/2?amp"), failure(AMP + "/2?amp", "timeout")])
    assert batch.stored == 1 and batch.failed == {"timeout": 1}
    assert store.count_documents(status="failed") == 0


def test_a_failed_row_for_a_url_that_turns_out_to_be_an_alias_goes(store: Store) -> None:
    store.save_batch([failure(MOBILE, "http_500")])
    assert store.count_documents(status="failed") == 1
    result = store.save_batch([met(CANONICAL, MOBILE)])
    assert result.stored == 1
    assert store.count_documents(status=None) == 1
    assert aliases(store) == {MOBILE: CANONICAL}
    doc = store.document(MOBILE)
    assert doc is not None and doc.url == CANONICAL and doc.status == "ok"


def test_an_alias_never_names_another_stored_document(store: Store) -> None:
    other = "https://www.gazette.co.uk/news/other"
    store.save_batch([article(CANONICAL), article(other, text="Another text.")])
    # A page naming both (a wrong canonical, say) merges nothing.
    result = store.save_batch([met(CANONICAL, other)])
    assert result.unchanged == 1
    assert store.count_documents() == 2
    assert aliases(store) == {}
    doc = store.document(other)
    assert doc is not None and doc.text == "Another text."


def test_saving_the_same_batch_twice_stores_nothing_twice(store: Store) -> None:
    batch = [
        met(CANONICAL, MOBILE, FILE),
        met(AMP + "/2", AMP + "/2?x=1"),
        failure(MOBILE, "timeout"),
        failure("http://127.0.0.1/gone", "http_404", status=404),
    ]
    first = store.save_batch(batch)
    rows, links = store.count_documents(status=None), alias_count(store)
    assert (first.stored, rows, links) == (2, 3, 3)
    second = store.save_batch(batch)
    assert (second.stored, second.updated, second.unchanged) == (0, 0, 2)
    assert second.failed == first.failed == {"timeout": 1, "http_404": 1}
    assert (store.count_documents(status=None), alias_count(store)) == (rows, links)
    assert store.document(FILE) is not None
    doc = store.document(CANONICAL)
    assert doc is not None and doc.first_seen_at == T0 and doc.attempts == 2
