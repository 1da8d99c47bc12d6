"""``newsingest sources discover URL``, run for real against a local site."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.sources import SourceConfig
from tests.test_cli import newsingest, quick_config, write_config
from tests.webserver import LocalServer, Route, html_page

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>'
    b"<item><title>One</title><link>https://gazette.example/one</link></item>"
    b"</channel></rss>"
)
NEWS_SITEMAP = (
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
    b"<url><loc>https://gazette.example/one</loc><news:news>"
    b"<news:publication_date>2024-10-21</news:publication_date><news:title>One</news:title>"
    b"</news:news></url></urlset>"
)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    """A site with a linked feed and a Google News sitemap listed in robots.txt."""
    with LocalServer() as server:
        server.add(
            "/",
            Route(
                body=b"<html><head><title>Gazette</title>"
                b'<link rel="alternate" type="application/rss+xml" title="Gazette" '
                b'href="/feeds/all.rss"></head><body>Hello</body></html>',
                headers={"Content-Type": "text/html"},
            ),
        )
        server.add("/feeds/all.rss", Route(body=RSS))
        server.add("/robots.txt", Route(body=b"User-agent: *\nSitemap: /news-sitemap.xml\n"))
        server.add("/news-sitemap.xml", Route(body=NEWS_SITEMAP))
        yield server


def test_discover_prints_entries_ready_to_paste(tmp_path: Path, site: LocalServer) -> None:
    result = newsingest("sources", "discover", site.url("/"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sources = tomllib.loads(result.stdout)["sources"]
    assert sources == [
        {"id": "127-0-0-1-all", "kind": "feed", "url": site.url("/feeds/all.rss")},
        {"id": "127-0-0-1-news-sitemap", "kind": "sitemap", "url": site.url("/news-sitemap.xml")},
    ]
    for source in sources:  # valid config entries as printed
        SourceConfig.model_validate(source)
    assert '# feed "Gazette", 1 entry, linked from the page' in result.stdout
    assert "# Google News sitemap, 1 URL, listed in robots.txt" in result.stdout
    assert "found 1 feed and 1 sitemap" in result.stderr


def test_discover_keeps_clear_of_configured_ids(
    tmp_path: Path, site: LocalServer, sqlite_url: str
) -> None:
    config = write_config(
        tmp_path / "news.toml",
        quick_config(
            sqlite_url, [{"id": "127-0-0-1-all", "kind": "feed", "url": site.url("/feeds/all.rss")}]
        ),
    )
    result = newsingest("--config", config, "sources", "discover", site.url("/"))
    assert result.returncode == 0, result.stderr
    feed = tomllib.loads(result.stdout)["sources"][0]
    assert feed["id"] == "127-0-0-1-all-2"
    assert "# already configured as '127-0-0-1-all'" in result.stdout


def test_a_site_with_nothing_to_find_exits_1_with_one_sentence(tmp_path: Path) -> None:
    with LocalServer({"/": html_page("Nothing here")}) as server:
        url = server.url("/")
        result = newsingest("sources", "discover", url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"newsingest: no feed or sitemap found at {url}")
    assert "robots.txt" in line


def test_an_unreachable_site_exits_1_naming_it(tmp_path: Path) -> None:
    result = newsingest("sources", "discover", "http://127.0.0.1:1/", cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("newsingest: could not read http://127.0.0.1:1/ (connection")


def test_a_bad_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = newsingest("sources", "discover", "ftp://example.org/", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("newsingest: bad URL 'ftp://example.org/'")
