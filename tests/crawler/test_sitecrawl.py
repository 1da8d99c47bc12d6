"""Site crawls against a real local news site: links, depth, page budget, patterns, robots.

The site (tests/sitepages.py) has a home page, sections, a tag page, an archive,
articles at depths 1 to 3, a robots.txt-forbidden article and a link to another
site, which is a second server under another host name (localhost, not 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.records import FetchedPage, FetchFailure, FetchResult
from crawler.settings import CrawlSettings
from crawler.sitecrawl import MAX_ARTICLES, NOT_ARTICLE, OFFSITE, crawl_site
from crawler.sources import SourceConfig
from newsingest.demo.newsroom import Newsroom
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
    home_page,
    news_site_routes,
)
from tests.webserver import LocalServer, Route, redirect, robots_txt, slow

pytestmark = pytest.mark.slow

FAST = CrawlSettings(delay=0, autothrottle=False, concurrency_per_domain=8, timeout=5.0, retries=0)
SHALLOW = (*HOME_ARTICLES, *SECTION_ARTICLES, *TAG_ARTICLES, *RELATED_ARTICLES)


def html(body: bytes) -> Route:
    return Route(body=body, headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def elsewhere() -> Iterator[LocalServer]:
    with LocalServer({"/story": html(home_page([]))}) as server:
        yield server


@pytest.fixture
def site(elsewhere: LocalServer) -> Iterator[LocalServer]:
    offsite = f"http://localhost:{elsewhere.port}/story"
    with LocalServer() as server:
        for path, body in news_site_routes(offsite).items():
            server.add(path, html(body))
        server.add("/robots.txt", robots_txt(["/private/"]))
        yield server


def source(site: LocalServer, **fields: object) -> SourceConfig:
    return SourceConfig.model_validate(
        {"id": "daily", "kind": "site", "url": site.url("/"), **fields}
    )


def crawl(
    site: LocalServer,
    known: set[str] | None = None,
    asked: list[str] | None = None,
    **fields: object,
) -> list[FetchResult]:
    def lookup(urls: list[str]) -> set[str]:
        if asked is not None:
            asked.extend(urls)
        return {u for u in urls if u in (known or set())}

    return list(crawl_site(source(site, **fields), FAST, known=lookup))


def paths(site: LocalServer, results: list[FetchResult], kind: str) -> set[str]:
    """The paths of the results of one kind: article, not_article or a failure reason."""
    chosen = [
        r.url
        for r in results
        if (kind == "article" and isinstance(r, FetchedPage))
        or (isinstance(r, FetchFailure) and r.reason == kind)
    ]
    return {url.removeprefix(site.base_url) for url in chosen}


def fetched_paths(site: LocalServer) -> list[str]:
    return [r.path for r in site.requests if r.path != "/robots.txt"]


def test_crawl_follows_same_site_links_within_depth(
    site: LocalServer, elsewhere: LocalServer
) -> None:
    results = crawl(site)

    assert paths(site, results, "article") == set(SHALLOW)
    assert paths(site, results, NOT_ARTICLE) == {*INDEX_PATHS, *NAV_PATHS, *THIN_PATHS}
    # Depth 3 is past max_depth = 2: the archive is fetched, its links are not.
    assert all(site.hits(path) == 0 for path in DEEP_ARTICLES)
    # robots.txt obeyed; the other site never contacted.
    assert site.hits(PRIVATE_ARTICLE) == 0
    assert paths(site, results, "robots_disallowed") == {PRIVATE_ARTICLE}
    assert elsewhere.requests == []
    # Every page once, and one result per page.
    fetched = fetched_paths(site)
    assert len(fetched) == len(set(fetched)) == len(results) - 1  # the disallowed one
    # An index page comes back without its body; its verdict says why.
    home = next(r for r in results if r.url == site.url("/"))
    assert isinstance(home, FetchFailure) and home.detail.startswith("index_page")


def test_page_budget_and_depth_zero(site: LocalServer) -> None:
    results = crawl(site, max_pages=4)
    assert len(fetched_paths(site)) == 4 == len(results)

    site.requests.clear()
    results = crawl(site, max_depth=0, start_urls=[site.url(HOME_ARTICLES[1])])
    assert sorted(fetched_paths(site)) == sorted(["/", HOME_ARTICLES[1]])
    assert paths(site, results, "article") == {HOME_ARTICLES[1]}


def test_allow_and_deny_patterns_choose_what_is_followed(site: LocalServer) -> None:
    results = crawl(site, allow=[r"/20\d\d/", r"/world/$"], deny=[r"/10/19/"])
    fetched = set(fetched_paths(site))
    assert "/" in fetched  # a start URL is always fetched
    assert {"/world/", HOME_ARTICLES[0], SECTION_ARTICLES[0]} <= fetched
    assert not fetched & {"/tag/bridges", "/politics/", "/about", SECTION_ARTICLES[1]}
    assert TAG_ARTICLES[0] not in fetched  # only the (not allowed) tag page links to it
    assert paths(site, results, "article") == {
        *HOME_ARTICLES,
        SECTION_ARTICLES[0],
        *RELATED_ARTICLES,
    }


def test_known_urls_are_asked_once_and_not_fetched(site: LocalServer) -> None:
    asked: list[str] = []
    stored = {site.url(HOME_ARTICLES[0]), site.url("/world/")}
    results = crawl(site, known=stored, asked=asked)
    assert len(asked) == len(set(asked))
    assert stored <= set(asked)
    assert site.hits(HOME_ARTICLES[0]) == 0 and site.hits("/world/") == 0
    # What only they link to is not reached either; the rest is.
    assert all(site.hits(path) == 0 for path in (*RELATED_ARTICLES, *SECTION_ARTICLES))
    assert paths(site, results, "article") == {HOME_ARTICLES[1], *TAG_ARTICLES}


def test_links_are_canonicalised_and_a_redirect_off_site_is_not_followed(
    elsewhere: LocalServer,
) -> None:
    with LocalServer() as site:
        links = [
            ("/go/story", "Redirected elsewhere"),
            ("/2024/10/21/one-story?utm_source=home#comments", "One story"),
            ("/2024/10/21/one-story", "The same story"),
            ("/report.pdf", "A document"),
        ]
        site.add("/", html(home_page(links)))
        site.add("/go/story", redirect(f"http://localhost:{elsewhere.port}/story"))
        site.add("/2024/10/21/one-story", html(home_page([])))
        results = crawl(site)
        assert elsewhere.requests == []
        assert paths(site, results, OFFSITE) == {"/go/story"}
        assert site.hits("/2024/10/21/one-story") == 1
        assert site.hits("/report.pdf") == 0  # LinkExtractor leaves documents out


def test_unreachable_start_page_is_one_failure(site: LocalServer) -> None:
    config = SourceConfig(id="gone", kind="site", url="http://127.0.0.1:1/")
    results = list(crawl_site(config, FAST, known=lambda urls: set()))
    assert [(r.url, getattr(r, "reason", None)) for r in results] == [
        ("http://127.0.0.1:1/", "connection")
    ]


def test_max_articles_caps_the_articles_sent_back(site: LocalServer) -> None:
    results = crawl(site, max_articles=2)
    assert len(paths(site, results, "article")) == 2
    # Article pages already in flight when the cap was met come back as skips.
    over = paths(site, results, MAX_ARTICLES)
    assert over <= set(SHALLOW) and not over & paths(site, results, "article")


def test_the_demo_newsroom_publisher_is_crawled_to_every_article() -> None:
    """Other templates than ours: the bundled newsroom's front page and articles."""
    with Newsroom() as room:
        publisher = room.publishers[0].id
        config = SourceConfig(
            id=publisher, kind="site", url=room.url(f"/{publisher}/"), allow=[f"/{publisher}/"]
        )
        results = list(crawl_site(config, FAST, known=lambda urls: set()))
        expected = {room.url(f"/{publisher}/") + path for path in _article_paths(room, publisher)}
    articles = {r.url for r in results if isinstance(r, FetchedPage)}
    assert articles == expected
    front = [r for r in results if r.url == config.url]
    assert [getattr(r, "reason", None) for r in front] == [NOT_ARTICLE]
    assert not any(r.url.endswith(".xml") for r in results)  # feeds are not pages


def _article_paths(room: Newsroom, publisher: str) -> set[str]:
    return {
        f"{a.published_at:%Y/%m}/{a.slug}.html" for a in room.articles if publisher in a.publishers
    }


def test_a_crawler_that_stops_answering_is_stopped_and_reported() -> None:
    with LocalServer({"/": slow(30.0, html(home_page([])))}) as site:
        config = source(site)
        results = list(crawl_site(config, FAST, known=lambda urls: set(), idle_timeout=2.0))
    assert [(r.url, getattr(r, "reason", None)) for r in results] == [
        (config.url, "crawler_crashed")
    ]
