"""A site source end to end: crawl a local news site, store its articles, not its index pages.

Real HTTP server, real crawler process, real SQLite and PostgreSQL databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from newsingest.app import App, open_app
from newsingest.config import build_settings
from tests.sitepages import (
    DEEP_ARTICLES,
    HOME_ARTICLES,
    INDEX_PATHS,
    NAV_PATHS,
    PRIVATE_ARTICLE,
    RELATED_ARTICLES,
    SECTION_ARTICLES,
    TAG_ARTICLES,
    THIN_PATHS,
    article_page,
    home_page,
    news_site_routes,
)
from tests.webserver import LocalServer, Route, robots_txt

pytestmark = pytest.mark.slow

SHALLOW = (*HOME_ARTICLES, *SECTION_ARTICLES, *TAG_ARTICLES, *RELATED_ARTICLES)
NOT_ARTICLES = (*INDEX_PATHS, *NAV_PATHS, *THIN_PATHS)


def html(body: bytes) -> Route:
    return Route(body=body, headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as elsewhere, LocalServer() as server:
        offsite = f"http://localhost:{elsewhere.port}/story"
        for path, body in news_site_routes(offsite).items():
            server.add(path, html(body))
        server.add("/robots.txt", robots_txt(["/private/"]))
        yield server
        assert elsewhere.requests == []  # links to other sites are never followed


@pytest.fixture
def app_for(database_url: str) -> Iterator[Any]:
    opened: list[Any] = []

    def make(sources: list[dict[str, Any]]) -> App:
        settings = build_settings(
            {
                "database": {"url": database_url},
                "crawl": {
                    "delay": 0,
                    "autothrottle": False,
                    "concurrency_per_domain": 8,
                    "timeout": 5.0,
                    "retries": 0,
                },
                "pipeline": {"workers": 1, "min_text_chars": 100},
                "sources": sources,
            }
        )
        cm = open_app(settings)
        opened.append(cm)
        return cm.__enter__()

    yield make
    for cm in opened:
        cm.__exit__(None, None, None)


def stored_paths(app: App, site: LocalServer) -> set[str]:
    return {d.url.removeprefix(site.base_url) for d in app.store.documents()}


def test_site_crawl_stores_articles_and_counts_index_pages(site: LocalServer, app_for: Any) -> None:
    app: App = app_for([{"id": "daily", "kind": "site", "url": site.url("/")}])
    [report] = app.ingestor.run(app.settings.sources)

    assert report.status == "ok"
    # Articles are documents; index pages and the rest are not, not even failed rows.
    assert stored_paths(app, site) == set(SHALLOW)
    assert app.store.count_documents(status=None) == len(SHALLOW)
    c = report.counts
    assert c.stored == len(SHALLOW)
    assert c.skipped == {"not_article": len(NOT_ARTICLES), "robots_disallowed": 1}
    assert c.failed == {}
    assert c.fetched == len(SHALLOW) + len(NOT_ARTICLES)
    assert c.new == c.fetched + 1  # and the robots.txt-forbidden one
    assert site.hits(PRIVATE_ARTICLE) == 0
    assert all(site.hits(path) == 0 for path in DEEP_ARTICLES)  # past max_depth
    doc = app.store.document(site.url(HOME_ARTICLES[0]))
    assert doc is not None and doc.title == "Bridge vote ends debate"
    assert "river bridge" in (doc.text or "")


def test_second_run_revisits_start_pages_and_fetches_only_new_articles(
    site: LocalServer, app_for: Any
) -> None:
    app: App = app_for([{"id": "daily", "kind": "site", "url": site.url("/")}])
    app.ingestor.run(app.settings.sources)
    hits_before = {path: site.hits(path) for path in SHALLOW}

    # The newsroom publishes a story: the home page now links to it.
    fresh = "/2024/10/22/ferry-timetable-published"
    links = [(path, path) for path in (fresh, *HOME_ARTICLES)]
    site.add("/", html(home_page(links)))
    site.add(fresh, html(article_page("Ferry timetable published")))
    [second] = app.ingestor.run(app.settings.sources)

    assert site.hits("/") == 2  # the start page is revisited
    assert site.hits(fresh) == 1
    assert {path: site.hits(path) for path in SHALLOW} == hits_before  # nothing again
    assert second.counts.stored == 1
    assert stored_paths(app, site) == {*SHALLOW, fresh}
    assert second.counts.skipped["not_article"] >= 1


def test_page_limit_allow_and_deny(site: LocalServer, app_for: Any) -> None:
    app: App = app_for(
        [
            {
                "id": "daily",
                "kind": "site",
                "url": site.url("/"),
                "allow": [r"/20\d\d/", r"/world/$"],
                "deny": [r"/10/19/"],
                "max_pages": 4,
            }
        ]
    )
    [report] = app.ingestor.run(app.settings.sources)
    fetched = [r.path for r in site.requests if r.path != "/robots.txt"]
    assert len(fetched) == 4 == report.counts.new
    assert all(p == "/" or p == "/world/" or p.startswith("/2024/10/") for p in fetched)
    assert "/2024/10/19/budget-raised-again" not in fetched
    assert stored_paths(app, site) <= set(SHALLOW)
    assert report.counts.stored == len(stored_paths(app, site)) >= 2


def test_a_dead_site_is_a_failure_of_its_own_source_only(site: LocalServer, app_for: Any) -> None:
    app: App = app_for(
        [
            {"id": "dead", "kind": "site", "url": "http://127.0.0.1:1/"},
            {"id": "daily", "kind": "site", "url": site.url("/"), "max_depth": 1},
        ]
    )
    reports = {r.source: r for r in app.ingestor.run(app.settings.sources)}
    assert reports["dead"].counts.failed == {"connection": 1}
    assert app.store.count_documents("dead", status=None) == 0
    assert reports["daily"].counts.stored == len(HOME_ARTICLES)
