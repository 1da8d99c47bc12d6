"""Learned per-host boilerplate end to end: crawl real local sites, restart, reclean, explain.

The fixture sites are small newsrooms on 127.0.0.1 whose article bodies carry a line
no rule describes (an ownership statement) inside the <article>, where trafilatura
keeps it. Each test runs the real ingest path (feed poll, Scrapy fetcher, extraction
workers, batch stages) or the installed console script.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newsingest.app import open_app
from newsingest.config import Settings, build_settings
from storage.copies import CopyIndex
from storage.records import StoredDocument
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from tests.test_cli import newsingest, quick_config, write_config
from tests.webserver import LocalServer, Route

STATEMENT = (
    "The Harbour Tribune is owned by its readers' cooperative and takes no money "
    "from the port authority or the ferry companies."
)
STORIES = {
    "ferry": (
        "The harbour authority opened the new ferry terminal on Monday after three years "
        "of building work, and the first crossing left at six in the morning.",
        "Commuters said the trip to the mainland now takes twelve minutes instead of forty, "
        "and the old quay will become a covered market with room for sixty stalls.",
    ),
    "bridge": (
        "The council voted on Tuesday to rebuild the river bridge, ending a debate that has "
        "lasted for more than a decade in the town hall and in the letters pages.",
        "Engineers said the work would begin in spring and take two years, during which a "
        "small boat will carry pedestrians and cyclists across the river every hour.",
    ),
    "school": (
        "The harbour school will open a sailing class for children aged ten to fourteen, "
        "with boats lent by the yacht club and lessons every Saturday in summer.",
        "Parents asked for the class after two years in which the only lessons on offer "
        "were at a club in the next town, an hour away by bus each way.",
    ),
    "lighthouse": (
        "Volunteers finished repainting the old lighthouse on the north mole this week, "
        "the first new coat of paint since the light was automated in the eighties.",
        "The trust that looks after the tower plans to open its gallery to visitors on "
        "weekends from May, with a small exhibition about the keepers who lived there.",
    ),
    "market": (
        "The fish market will move its opening hour to five in the morning from next month "
        "so that restaurants can buy before the tourist season traffic starts on the quay.",
        "Stallholders agreed to the change at a meeting on Thursday, though some said the "
        "earlier start would make it harder to find staff for the first hours.",
    ),
    "festival": (
        "The summer festival will close the promenade to cars for three weekends in July, "
        "with a stage for local bands at the end of the pier and food stalls by the beach.",
        "Organisers expect twice as many visitors as last year and have asked the railway "
        "company to add late trains on the Saturday evenings of the festival.",
    ),
}


def page(title: str, paragraphs: Sequence[str]) -> Route:
    """An article page whose body paragraphs are all inside the <article>."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Contact the newsroom</footer></body></html>"
    )
    return Route(body=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


def serve(server: LocalServer, slugs: Sequence[str], *, statement: bool = True) -> str:
    """Serve an article per slug (with the statement in its body) and a feed; its URL."""
    items = []
    for slug in slugs:
        first, second = STORIES[slug]
        paragraphs = [first, STATEMENT, second] if statement else [first, second]
        server.add(f"/news/{slug}.html", page(slug.title() + " news", paragraphs))
        items.append(
            f"<item><title>{slug}</title><link>{server.url(f'/news/{slug}.html')}</link></item>"
        )
    channel = f"<channel><title>Tribune</title>{''.join(items)}</channel>"
    feed = f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'
    server.add(
        "/feed.xml", Route(body=feed.encode(), headers={"Content-Type": "application/rss+xml"})
    )
    return server.url("/feed.xml")


def settings_for(database_url: str, sources: list[dict[str, Any]], **boilerplate: Any) -> Settings:
    config = quick_config(database_url, sources)
    # One article per batch: the first ones are stored before the line is known.
    config["pipeline"]["batch_size"] = 1
    config["boilerplate"] = boilerplate
    return build_settings(config)


@contextmanager
def stored(database_url: str) -> Iterator[Store]:
    store = open_store(DatabaseSettings(url=database_url))
    try:
        yield store
    finally:
        store.dispose()


def docs_of(store: Store, source: str) -> list[StoredDocument]:
    return list(store.documents(source))


@pytest.fixture
def tribune() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


@pytest.fixture
def other_site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def test_learned_line_leaves_every_page_of_its_host_and_only_its_host(
    database_url: str, tribune: LocalServer, other_site: LocalServer
) -> None:
    sources = [
        {
            "id": "tribune",
            "kind": "feed",
            "url": serve(tribune, ["ferry", "bridge", "school", "lighthouse", "market"]),
        },
        {"id": "other", "kind": "feed", "url": serve(other_site, ["festival"])},
    ]
    settings = settings_for(database_url, sources)
    with open_app(settings) as app:
        reports = app.ingestor.run(settings.sources)
    assert [r.counts.stored for r in reports] == [5, 1]

    with stored(database_url) as store:
        tribune_docs = docs_of(store, "tribune")
        assert len(tribune_docs) == 5
        for doc in tribune_docs:
            # Gone from all of them, also the ones stored before it was known...
            assert STATEMENT not in (doc.text or ""), doc.url
            assert STORIES[doc.url.rsplit("/", 1)[1].removesuffix(".html")][1] in (doc.text or "")
            # ... while the raw extraction keeps it, for explain and reclean.
            assert STATEMENT in (doc.raw_text or "")
        [festival] = docs_of(store, "other")
        assert STATEMENT in (festival.text or "")  # another host never learned it
        # The copy fingerprints were taken again from the cleaned texts.
        assert CopyIndex(store.engine).unfingerprinted() == []

    # A restart: a new process on the same database still knows the line.
    serve(tribune, ["ferry", "bridge", "school", "lighthouse", "market", "festival"])
    with open_app(settings) as app:
        [report, _] = app.ingestor.run(settings.sources)
    assert report.counts.stored == 1
    with stored(database_url) as store:
        newest = store.document(tribune.url("/news/festival.html"))
        assert newest is not None and newest.text is not None
        assert STATEMENT not in newest.text and STORIES["festival"][0] in newest.text


def test_two_pages_are_not_enough_when_three_are_needed(
    database_url: str, tribune: LocalServer
) -> None:
    sources = [{"id": "tribune", "kind": "feed", "url": serve(tribune, ["ferry", "bridge"])}]
    settings = settings_for(database_url, sources, min_documents=3)
    with open_app(settings) as app:
        app.ingestor.run(settings.sources)
    with stored(database_url) as store:
        docs = docs_of(store, "tribune")
    assert len(docs) == 2 and all(STATEMENT in (d.text or "") for d in docs)


def test_reclean_and_explain_from_the_command_line(
    tmp_path: Path, sqlite_url: str, tribune: LocalServer
) -> None:
    feed = serve(tribune, ["ferry", "bridge", "school", "lighthouse"])
    sources = [{"id": "tribune", "kind": "feed", "url": feed}]
    off = quick_config(sqlite_url, sources)
    off["boilerplate"] = {"enabled": False}
    config = write_config(tmp_path / "newsingest.toml", off)
    crawled = newsingest("--config", config, "crawl", timeout=120)
    assert crawled.returncode == 0, crawled.stderr
    url = tribune.url("/news/ferry.html")

    # Learning off: the line is stored, and explain says nothing about it.
    shown = newsingest("--config", config, "explain", url)
    assert shown.returncode == 0, shown.stderr
    assert "[learned" not in shown.stdout and STATEMENT in shown.stdout

    # Learning on: reclean learns from the stored raw texts and cleans every page.
    write_config(config, quick_config(sqlite_url, sources))
    first = newsingest("--config", config, "reclean", "--source", "tribune")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        "Re-cleaned 4 document(s): 4 changed, 1 boilerplate paragraph(s) newly learned, "
        "4 copy fingerprint(s) taken again."
    )
    with stored(sqlite_url) as store:
        assert all(STATEMENT not in (d.text or "") for d in docs_of(store, "tribune"))
    again = newsingest("--config", config, "reclean")
    assert again.stdout.strip() == (
        "Re-cleaned 4 document(s): 0 changed, 0 boilerplate paragraph(s) newly learned, "
        "0 copy fingerprint(s) taken again."
    )

    shown = newsingest("--config", config, "explain", url)
    assert shown.returncode == 0, shown.stderr
    removed, kept = shown.stdout.split("Kept text:\n")
    assert f"[learned from 4 documents of this host] {STATEMENT}" in removed
    assert STATEMENT not in kept
    assert STORIES["ferry"][0] in kept and STORIES["ferry"][1] in kept
    # The URL as a user may paste it, with a tracking parameter, finds the same document.
    tracked = newsingest("--config", config, "explain", url + "?utm_source=newsletter")
    assert tracked.returncode == 0 and tracked.stdout == shown.stdout


def test_explain_and_reclean_refuse_what_is_not_there(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path / "newsingest.toml", quick_config(sqlite_url, []))
    missing = "http://127.0.0.1:1/news/never-stored.html"
    assert newsingest("--config", config, "db", "upgrade").returncode == 0
    result = newsingest("--config", config, "explain", missing)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"newsingest: no document is stored for {missing!r}; `newsingest status` lists the sources"
    ]
    result = newsingest("--config", config, "reclean", "--source", "nowhere")
    assert result.returncode == 2
    assert "'nowhere'" in result.stderr and "Traceback" not in result.stderr
