"""One pass over sources, end to end against a real local site, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from newsingest.app import App, open_app
from newsingest.config import Settings, build_settings
from storage.models import Document
from tests.webserver import (
    LocalServer,
    Route,
    conditional,
    html_page,
    pdf,
    robots_txt,
    slow,
    status_page,
)

STORY = (
    "The city council voted on Tuesday to rebuild the old river bridge, ending a debate "
    "that has lasted for more than a decade. Engineers said the work would begin in spring "
    "and take two years, during which a ferry will carry pedestrians across the river. "
)


def rss(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        "<pubDate>Mon, 21 Oct 2024 08:00:00 GMT</pubDate>"
        "<author>desk@example.org (News Desk)</author></item>"
        for title, link in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>'
        f"{body}</channel></rss>"
    ).encode()


def feed_route(items: list[tuple[str, str]], **validators: str) -> Any:
    route = Route(body=rss(items), headers={"Content-Type": "application/rss+xml"})
    return conditional(route, **validators) if validators else route


def article(title: str) -> Route:
    return html_page(title, STORY * 2 + title)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        items = [
            ("One", server.url("/news/one.html")),
            ("Two", "/news/two.html"),  # relative link
            ("One again", server.url("/news/one.html")),  # duplicate entry
            ("Missing", server.url("/news/missing.html")),
            ("Broken", server.url("/news/broken.html")),
            ("Slow", server.url("/news/slow.html")),
            ("Paper", server.url("/news/paper.pdf")),
            ("Private", server.url("/private/secret.html")),
        ]
        server.add("/robots.txt", robots_txt(["/private/"]))
        server.add("/feed.xml", feed_route(items, etag='"v1"'))
        server.add("/news/one.html", article("One"))
        server.add("/news/two.html", article("Two"))
        server.add("/news/missing.html", status_page(404))
        server.add("/news/broken.html", status_page(500))
        server.add("/news/slow.html", slow(3.0, article("Slow")))
        server.add("/news/paper.pdf", pdf())
        server.add("/private/secret.html", article("Secret"))
        server.add(
            "/malformed.xml",
            Route(body=b"<html><body>this is not a feed", headers={"Content-Type": "text/html"}),
        )
        yield server


def settings_for(url: str, sources: list[dict[str, Any]]) -> Settings:
    return build_settings(
        {
            "database": {"url": url},
            "crawl": {
                "delay": 0,
                "autothrottle": False,
                "concurrency_per_domain": 8,
                "timeout": 1.0,
                "retries": 1,
                "retry_backoff": 0.05,
            },
            "pipeline": {"workers": 1, "min_text_chars": 100},
            "sources": sources,
        }
    )


@pytest.fixture
def app_for(database_url: str) -> Iterator[Any]:
    opened: list[Any] = []

    def make(sources: list[dict[str, Any]]) -> App:
        cm = open_app(settings_for(database_url, sources))
        opened.append(cm)
        return cm.__enter__()

    yield make
    for cm in opened:
        cm.__exit__(None, None, None)


def test_one_pass_stores_articles_and_records_every_failure(
    site: LocalServer, app_for: Any
) -> None:
    app: App = app_for(
        [
            {"id": "local", "kind": "feed", "url": site.url("/feed.xml")},
            {"id": "malformed", "kind": "feed", "url": site.url("/malformed.xml")},
            {"id": "dead", "kind": "feed", "url": "http://127.0.0.1:1/feed.xml"},
        ]
    )
    reports = {r.source: r for r in app.ingestor.run(app.settings.sources)}

    local = reports["local"]
    assert local.status == "ok"
    assert local.counts.found == 7  # the duplicate entry collapsed
    assert local.counts.stored == 2
    assert dict(local.counts.failed) == {"http_404": 1, "http_500": 1, "timeout": 1}
    # Deliberate skips are recorded with their reason, apart from failures.
    assert dict(local.counts.skipped) == {"not_html": 1, "robots_disallowed": 1}
    assert site.hits("/private/secret.html") == 0  # robots.txt obeyed
    assert site.hits("/news/broken.html") == 2  # one retry

    # A broken feed and a dead site are failures of their own sources only.
    assert reports["malformed"].status == "failed"
    assert reports["malformed"].counts.failed == {"feed_malformed": 1}
    assert reports["dead"].status == "failed"
    assert reports["dead"].counts.failed == {"feed_connection": 1}

    summaries = {s.source: s for s in app.store.source_summaries()}
    assert summaries["local"].documents == 2
    assert summaries["local"].failures == local.counts.failed
    assert summaries["local"].skipped == local.counts.skipped
    assert summaries["dead"].state.consecutive_failures == 1
    doc = app.store.document(site.url("/news/two.html"))
    assert doc is not None and doc.title == "Two" and "river bridge" in doc.text
    assert doc.authors == ("News Desk",)  # from the feed: the page names no author


def test_second_poll_sends_validators_and_a_304_fetches_nothing(
    site: LocalServer, app_for: Any
) -> None:
    app: App = app_for([{"id": "local", "kind": "feed", "url": site.url("/feed.xml")}])
    app.ingestor.run(app.settings.sources)
    pages_before = site.hits("/news/one.html")

    [second] = app.ingestor.run(app.settings.sources)
    feed_requests = site.requests_to("/feed.xml")
    assert feed_requests[-1].headers.get("if-none-match") == '"v1"'
    assert second.counts.found == 0 and second.counts.fetched == 0
    assert site.hits("/news/one.html") == pages_before


def test_two_crawls_store_nothing_twice(site: LocalServer, app_for: Any) -> None:
    site.add(
        "/plain.xml",
        feed_route(
            [
                ("One", site.url("/news/one.html")),
                ("Two", site.url("/news/two.html")),
            ]
        ),
    )
    app: App = app_for([{"id": "plain", "kind": "feed", "url": site.url("/plain.xml")}])
    [first] = app.ingestor.run(app.settings.sources)
    [second] = app.ingestor.run(app.settings.sources)
    assert first.counts.stored == 2
    assert second.counts.found == 2 and second.counts.new == 0 and second.counts.fetched == 0
    assert app.store.count_documents() == 2
    assert site.hits("/news/one.html") == 1


def test_url_list_source_counts_bad_lines_and_fetches_the_rest(
    site: LocalServer, app_for: Any, tmp_path: Any
) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# backfill\n{site.url('/news/one.html')}\nnot a url\nftp://example.org/x\n\n"
        f"{site.url('/news/two.html')}?utm_source=feed\n"
    )
    app: App = app_for([{"id": "list", "kind": "urls", "path": str(listing)}])
    [report] = app.ingestor.run(app.settings.sources)
    assert report.counts.stored == 2
    assert report.counts.failed == {"bad_url_line": 2}
    assert app.store.document(site.url("/news/two.html")) is not None  # tracking param dropped


@pytest.mark.parametrize("batch_seconds", [1.0, 60.0])
def test_a_slow_trickle_of_pages_is_written_without_waiting_for_a_full_batch(
    sqlite_url: str, batch_seconds: float
) -> None:
    with LocalServer() as server:
        fast = [f"/news/fast{i}.html" for i in range(3)]
        for path in fast:
            server.add(path, article(path))
        server.add("/news/later.html", slow(2.5, article("Later")))
        server.add("/news/last.html", slow(5.0, article("Last")))
        paths = [*fast, "/news/later.html", "/news/last.html"]
        server.add("/feed.xml", feed_route([(p, server.url(p)) for p in paths]))
        settings = build_settings(
            {
                "database": {"url": sqlite_url},
                "crawl": {"delay": 0, "autothrottle": False, "timeout": 10, "retries": 0},
                "pipeline": {
                    "workers": 1,
                    "min_text_chars": 100,
                    "batch_size": 1000,
                    "batch_seconds": batch_seconds,
                },
                "sources": [{"id": "local", "kind": "feed", "url": server.url("/feed.xml")}],
            }
        )
        with open_app(settings) as app:
            (report,) = app.ingestor.run(settings.sources)
            with app.store.engine.connect() as conn:
                written = dict(conn.execute(select(Document.url, Document.change_seq)).all())
        urls = {p: server.url(p) for p in paths}
    assert report.counts.stored == 5
    # Documents written in one transaction share its change number.
    first_pages = {written[urls[p]] for p in fast}
    last_page = written[urls["/news/last.html"]]
    if batch_seconds < 2:
        # The last page came seconds after the first ones, which were written before it.
        assert max(first_pages) < last_page
    else:
        assert first_pages == {last_page}  # one batch: nothing was written early
