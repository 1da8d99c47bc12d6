"""Learned boilerplate in the database, on SQLite and PostgreSQL: counts, thresholds, raw text."""

from __future__ import annotations

import threading
from dataclasses import replace

from sqlalchemy import Engine, select

from newsingest.cleaning import counted_text, reclean
from pipeline.boilerplate import BoilerplateSettings, paragraph_hash
from pipeline.text import content_hash
from storage.boilerplate import (
    BoilerplateHost,
    BoilerplateParagraph,
    BoilerplateStore,
    LearnedParagraph,
    TextChange,
)
from storage.database import create_engine_for
from storage.settings import DatabaseSettings
from storage.store import Store
from tests.storage.factories import T0, article

FOOTER = "Tide tables and ferry times appear daily on page 2 of the printed edition."
SETTINGS = BoilerplateSettings(min_documents=3)


def body(n: int, *extra: str) -> str:
    """A raw text whose first paragraph is unique to document ``n``."""
    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
    lead = f"The {words[n - 1]} story tells of a harbour crossing."
    return "\n".join([lead, *extra])


def save_and_count(
    store: Store, bp: BoilerplateStore, url: str, raw: str
) -> list[LearnedParagraph]:
    """Store an article with raw text ``raw`` and count it, as the batch stage does."""
    a = article(url, text=raw)
    store.save_batch([a])
    return bp.count([counted_text(a.url, a.final_url, a.raw_text, SETTINGS)])


def test_raw_text_is_stored_beside_the_cleaned_text(store: Store) -> None:
    a = replace(article("https://a.example/1"), text="Kept.", raw_text="Kept.\nFollow us!")
    store.save_batch([a])
    doc = store.document(a.url)
    assert doc is not None and doc.text == "Kept." and doc.raw_text == "Kept.\nFollow us!"
    # A re-fetch with the same cleaned text but a new template still refreshes raw_text.
    again = replace(a, raw_text="Kept.\nFollow us on X!", fetched_at=T0.replace(hour=13))
    assert store.save_batch([again]).unchanged == 1
    doc = store.document(a.url)
    assert doc is not None and doc.raw_text == "Kept.\nFollow us on X!"


def test_a_paragraph_becomes_known_in_the_third_distinct_document(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    host = "a.example"
    digest = paragraph_hash(FOOTER)
    assert save_and_count(store, bp, "https://a.example/1", body(1, FOOTER)) == []
    assert save_and_count(store, bp, "https://www.a.example/2", body(2, FOOTER)) == []
    assert bp.known_paragraphs(host, {digest}) == set()  # two documents are not enough
    newly = save_and_count(store, bp, "https://a.example/3", body(3, FOOTER.upper()))
    assert [(p.host, p.hash, p.documents) for p in newly] == [(host, digest, 3)]
    assert newly[0].text == FOOTER  # a sample kept once a second document had it
    assert bp.known_paragraphs(host, {digest, paragraph_hash(body(1))}) == {digest}
    # The documents stored before it became known are the ones to re-clean.
    urls = {d.url for d in bp.documents_containing([newly[0].id])}
    assert urls == {"https://a.example/1", "https://www.a.example/2", "https://a.example/3"}
    # Another host never learned it.
    assert bp.known_paragraphs("b.example", {digest}) == set()


def test_refetches_count_once_and_updates_replace_paragraphs(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    for _ in range(3):  # the same document fetched three times is one document
        save_and_count(store, bp, "https://a.example/1", body(1, FOOTER))
    save_and_count(store, bp, "https://a.example/2", body(2, FOOTER))
    assert bp.known_paragraphs("a.example", {paragraph_hash(FOOTER)}) == set()
    newly = save_and_count(store, bp, "https://a.example/3", body(3, FOOTER))
    assert len(newly) == 1
    # Document 3 is updated without the footer: the count goes back down to two.
    save_and_count(store, bp, "https://a.example/3", body(3, "A correction was added."))
    assert bp.known_paragraphs("a.example", {paragraph_hash(FOOTER)}) == set()
    with store.engine.connect() as conn:
        hosts = conn.execute(select(BoilerplateHost.host, BoilerplateHost.documents)).all()
    assert hosts == [("a.example", 3)]


def test_newly_known_is_reported_until_handled(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    for n in (1, 2, 3):
        newly = save_and_count(store, bp, f"https://a.example/{n}", body(n, FOOTER))
    assert len(newly) == 1
    # Not marked yet (say the process died before re-cleaning): the next count says it again.
    assert len(save_and_count(store, bp, "https://a.example/4", body(4, FOOTER))) == 1
    bp.apply([], mark_known=[newly[0].id])
    assert save_and_count(store, bp, "https://a.example/5", body(5, FOOTER)) == []
    assert bp.known_paragraphs("a.example", {paragraph_hash(FOOTER)})  # still known


def test_copies_of_one_story_count_as_one_document(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    story = "\n".join(
        [
            "The port authority will dredge the inner harbour this winter, its director said.",
            "Ships of up to forty thousand tonnes will then be able to dock at the old quay.",
        ]
    )
    # One story filed under three sections of the host: its lines are not the template's.
    for section in ("news", "business", "local"):
        assert save_and_count(store, bp, f"https://a.example/{section}/dredging", story) == []
    hashes = {paragraph_hash(p) for p in story.split("\n")}
    assert bp.known_paragraphs("a.example", hashes) == set()


def test_min_share_needs_a_share_of_the_hosts_documents(store: Store) -> None:
    strict = BoilerplateStore(store.engine, BoilerplateSettings(min_documents=3, min_share=0.5))
    for n in range(1, 8):
        extra = (FOOTER,) if n <= 3 else ()
        save_and_count(store, strict, f"https://a.example/{n}", body(n, *extra))
    # In 3 of the host's 7 documents: enough documents, too small a share.
    assert strict.known_paragraphs("a.example", {paragraph_hash(FOOTER)}) == set()
    assert BoilerplateStore(store.engine, SETTINGS).known_paragraphs(
        "a.example", {paragraph_hash(FOOTER)}
    ) == {paragraph_hash(FOOTER)}


def test_knowledge_survives_a_new_store_on_the_same_database(
    store: Store, database_url: str
) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    for n in (1, 2, 3):
        save_and_count(store, bp, f"https://a.example/{n}", body(n, FOOTER))
    store.dispose()
    engine: Engine = create_engine_for(DatabaseSettings(url=database_url))
    try:
        again = BoilerplateStore(engine, SETTINGS)
        assert again.known_paragraphs("a.example", {paragraph_hash(FOOTER)}) == {
            paragraph_hash(FOOTER)
        }
    finally:
        engine.dispose()


def test_apply_writes_only_over_the_text_it_was_computed_from(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    first = article("https://a.example/1", text=body(1, FOOTER))
    second = article("https://a.example/2", text=body(2, FOOTER))
    store.save_batch([first, second])
    changes = [
        TextChange(
            document_id=doc.id,
            expected_hash=doc.content_hash if doc.url == first.url else "stale",
            text=body(1),
            content_hash="new-hash",
        )
        for doc in (store.document(first.url), store.document(second.url))
        if doc is not None and doc.content_hash is not None
    ]
    assert bp.apply(changes) == 1
    one, two = store.document(first.url), store.document(second.url)
    assert one is not None and one.text == body(1) and one.content_hash == "new-hash"
    assert one.raw_text == body(1, FOOTER)  # the raw extraction is never rewritten
    assert two is not None and two.text == body(2, FOOTER)


def test_long_paragraphs_are_not_counted(store: Store) -> None:
    bp = BoilerplateStore(store.engine, SETTINGS)
    long_paragraph = "A long shared paragraph. " * 60  # 1,500 characters > max_chars
    for n in (1, 2, 3):
        save_and_count(store, bp, f"https://a.example/{n}", body(n, long_paragraph.strip()))
    with store.engine.connect() as conn:
        hashes = set(conn.scalars(select(BoilerplateParagraph.hash)))
    assert paragraph_hash(long_paragraph) not in hashes
    assert paragraph_hash(body(1)) in hashes


def test_concurrent_batches_sharing_a_paragraph_count_every_document(store: Store) -> None:
    """Three writers counting pages of one host at once: no document is lost from a count."""
    settings = BoilerplateSettings(min_documents=50)  # stays unknown, so it is always counted
    urls = [f"https://a.example/{n}" for n in range(60)]
    # Names in letters: digits are folded, so "report 1" and "report 2" would be one line.
    names = [chr(97 + n // 26) + chr(97 + n % 26) for n in range(len(urls))]
    texts = {
        url: "\n".join([f"Report {name} on the harbour, told in words of its own.", FOOTER])
        for url, name in zip(urls, names, strict=True)
    }
    store.save_batch([article(url, text=texts[url]) for url in urls])
    errors: list[BaseException] = []

    def count(part: list[str]) -> None:
        bp = BoilerplateStore(store.engine, settings)
        try:
            for at in range(0, len(part), 2):
                bp.count([counted_text(u, u, texts[u], settings) for u in part[at : at + 2]])
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=count, args=(urls[i::3],)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.engine.connect() as conn:
        footer_count = conn.scalar(
            select(BoilerplateParagraph.documents).where(
                BoilerplateParagraph.hash == paragraph_hash(FOOTER)
            )
        )
        host_count = conn.scalar(select(BoilerplateHost.documents))
    assert (footer_count, host_count) == (60, 60)


def test_reclean_learns_from_stored_raw_texts_and_is_idempotent(store: Store) -> None:
    def story(n: int) -> str:  # long enough that the footer is a small part of it
        weather = ["calm", "rough", "foggy", "windy", "rainy"][n - 1]
        return body(
            n, f"The {weather} crossing took an hour, the harbour master said after it ended."
        )

    # Stored before learning existed: the footer is in every text, nothing is counted.
    urls = [f"https://a.example/{n}" for n in range(1, 5)]
    store.save_batch([article(u, text=story(n) + "\n" + FOOTER) for n, u in enumerate(urls, 1)])
    store.save_batch([article("https://b.example/1", text=body(5, FOOTER), source="beta")])
    bp = BoilerplateStore(store.engine, SETTINGS)

    first = reclean(bp, SETTINGS, batch_size=3)
    assert (first.examined, first.changed, first.learned) == (5, 4, 1)
    for n, url in enumerate(urls, 1):
        doc = store.document(url)
        assert doc is not None and doc.text == story(n)
        assert doc.raw_text == story(n) + "\n" + FOOTER
        assert doc.content_hash == content_hash(story(n))
    other = store.document("https://b.example/1")
    assert other is not None and FOOTER in (other.text or "")  # another host

    again = reclean(bp, SETTINGS, batch_size=3)
    assert (again.examined, again.changed, again.learned) == (5, 0, 0)
    assert reclean(bp, SETTINGS, source_id="beta").examined == 1
