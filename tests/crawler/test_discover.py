"""Feed and sitemap discovery against real local sites."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from crawler.discover import discover
from crawler.errors import BadURLError
from crawler.settings import CrawlSettings
from tests.webserver import LocalServer, Route, html_page, status_page

SETTINGS = CrawlSettings(timeout=2.0)

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>'
    b"<item><title>One</title><link>https://gazette.example/one</link></item>"
    b"<item><title>Two</title><link>https://gazette.example/two</link></item>"
    b"</channel></rss>"
)
ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>Gazette (Atom)</title><id>urn:x</id><updated>2024-10-21T08:00:00Z</updated>"
    b'<entry><title>Three</title><link href="https://gazette.example/three"/>'
    b"<id>urn:3</id><updated>2024-10-21T08:00:00Z</updated></entry></feed>"
)
JSON_FEED = (
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "Gazette JSON",'
    b' "items": [{"id": "4", "url": "https://gazette.example/four"}]}'
)
SITEMAP = (
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    b"<url><loc>https://gazette.example/one</loc></url></urlset>"
)
NEWS_SITEMAP = (
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
    b"<url><loc>https://gazette.example/one</loc><news:news>"
    b"<news:publication_date>2024-10-21</news:publication_date><news:title>One</news:title>"
    b"</news:news></url></urlset>"
)


def page_with(head: str) -> Route:
    """An HTML page with ``head`` inside its <head>."""
    body = f"<!DOCTYPE html><html><head><title>Home</title>{head}</head><body>Hi</body></html>"
    return Route(body=body.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


def route(body: bytes, content_type: str = "application/xml") -> Route:
    return Route(body=body, headers={"Content-Type": content_type})


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def found(server: LocalServer, path: str = "/") -> list[tuple[str, str, str]]:
    """(kind, path, via) of what discovery finds at ``path``."""
    result = discover(server.url(path), settings=SETTINGS)
    return [(f.kind, f.url.removeprefix(server.base_url), f.via) for f in result.found]


def test_feed_links_on_the_page_are_found_relative_to_the_page(server: LocalServer) -> None:
    server.add(
        "/news/",
        page_with(
            '<link rel="alternate" type="application/rss+xml" title=" Gazette  news " '
            'href="rss/main.xml">'
            '<link rel="alternate" type="application/atom+xml; charset=utf-8" href="/atom">'
            '<link rel="alternate" type="application/feed+json" href="../feed.json">'
            '<link rel="alternate" type="application/rss+xml" href="/comments/feed">'
            '<link rel="alternate" type="application/rss+xml" href="/missing.xml">'
            '<link rel="alternate" type="application/rss+xml" href="/not-a-feed.html">'
            '<link rel="alternate" hreflang="fr" href="/fr/">'
            '<link rel="stylesheet" href="/style.css">'
        ),
    )
    server.add("/news/rss/main.xml", route(RSS, "application/rss+xml"))
    server.add("/atom", route(ATOM, "application/atom+xml"))
    server.add("/feed.json", route(JSON_FEED, "application/feed+json"))
    server.add("/comments/feed", route(RSS))
    server.add("/not-a-feed.html", html_page("Not a feed"))

    result = discover(server.url("/news/"), settings=SETTINGS)
    assert [(f.kind, f.url.removeprefix(server.base_url), f.via) for f in result.found] == [
        ("feed", "/news/rss/main.xml", "link"),
        ("feed", "/atom", "link"),
        ("feed", "/feed.json", "link"),
    ]
    main = result.found[0]
    assert (main.title, main.entries) == ("Gazette news", 2)
    assert server.hits("/comments/feed") == 0  # comment feeds are not articles
    assert server.requests_to("/news/rss/main.xml")[0].headers["user-agent"] == (
        SETTINGS.user_agent
    )


def test_a_base_element_changes_what_relative_links_resolve_against(server: LocalServer) -> None:
    server.add(
        "/",
        page_with(
            '<base href="/blog/"><link rel="alternate" type="application/rss+xml" href="feed.xml">'
        ),
    )
    server.add("/blog/feed.xml", route(RSS))
    assert found(server) == [("feed", "/blog/feed.xml", "link")]


def test_common_paths_are_tried_and_one_feed_at_two_paths_is_reported_once(
    server: LocalServer,
) -> None:
    server.add("/", html_page("Home"))
    server.add("/feed", route(RSS, "application/rss+xml"))
    server.add("/rss", route(RSS, "application/rss+xml"))  # the same feed again
    server.add("/atom.xml", route(ATOM, "application/atom+xml"))
    server.add("/rss.xml", html_page("A page, not a feed"))
    server.add("/index.xml", status_page(500))
    server.add("/sitemap.xml", route(SITEMAP))
    server.add("/news-sitemap.xml", route(gzip.compress(NEWS_SITEMAP), "application/gzip"))

    result = discover(server.url("/"), settings=SETTINGS)
    assert [(f.kind, f.url.removeprefix(server.base_url), f.via) for f in result.found] == [
        ("feed", "/feed", "path"),
        ("feed", "/atom.xml", "path"),
        ("sitemap", "/sitemap.xml", "path"),
        ("sitemap", "/news-sitemap.xml", "path"),
    ]
    assert [f.news for f in result.found if f.kind == "sitemap"] == [False, True]


def test_sitemaps_listed_in_robots_txt_are_found(server: LocalServer) -> None:
    server.add("/", html_page("Home"))
    server.add(
        "/robots.txt",
        route(
            b"User-agent: *\nDisallow: /private/\nSitemap: /maps/index.xml\n"
            b"Sitemap: /maps/gone.xml\n",
            "text/plain",
        ),
    )
    server.add(
        "/maps/index.xml",
        route(
            b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<sitemap><loc>/maps/a.xml</loc></sitemap><sitemap><loc>/maps/b.xml</loc></sitemap>"
            b"</sitemapindex>"
        ),
    )
    result = discover(server.url("/"), settings=SETTINGS)
    [index] = result.found
    assert (index.kind, index.url, index.via) == (
        "sitemap",
        server.url("/maps/index.xml"),
        "robots",
    )
    assert (index.index, index.entries) == (True, 2)


def test_a_feed_url_given_directly_is_found_as_itself(server: LocalServer) -> None:
    server.add("/feed.xml", route(RSS))
    assert found(server, "/feed.xml")[0] == ("feed", "/feed.xml", "page")


def test_a_missing_page_still_leads_to_the_common_paths(server: LocalServer) -> None:
    server.add("/feed", route(RSS))
    result = discover(server.url("/gone/"), settings=SETTINGS)
    assert [f.url for f in result.found] == [server.url("/feed")]
    assert result.page_error == "http_404"


def test_a_site_with_nothing_finds_nothing(server: LocalServer) -> None:
    server.add("/", html_page("Home"))
    result = discover(server.url("/"), settings=SETTINGS)
    assert result.found == ()
    assert result.page_error is None
    assert result.tried > 10  # the page, robots.txt and the common paths


def test_an_unreachable_site_stops_at_the_page() -> None:
    result = discover("http://127.0.0.1:1/", settings=SETTINGS)
    assert result.found == ()
    assert result.tried == 1
    assert result.page_error is not None and result.page_error.startswith("connection")


def test_a_bad_url_is_a_bad_url_error() -> None:
    with pytest.raises(BadURLError):
        discover("ftp://example.org/", settings=SETTINGS)
