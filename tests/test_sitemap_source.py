"""Sitemap sources end to end: discovered, fetched, extracted and stored from a local site."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsingest.app import open_app
from newsingest.config import build_settings
from newsingest.ingest import RunReport
from tests.test_cli import newsingest, quick_config, table_header, table_row, write_config
from tests.webserver import LocalServer, Route, conditional, html_page

pytestmark = pytest.mark.slow  # every test here starts a crawler process

STORY = (
    "The regional rail company opened its new line to the airport on Thursday, two years "
    "after the first tracks were laid. Trains will run every ten minutes at peak hours and "
    "the journey from the central station now takes eighteen minutes instead of forty. "
)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
RECENT = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)


def urlset(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="{NEWS_NS}">'
        f"{items}</urlset>"
    ).encode()


def news_item(loc: str, title: str, published: datetime) -> str:
    return (
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Rail Times</news:name>"
        "<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{published.isoformat()}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
    )


def plain_item(loc: str, lastmod: datetime | None = None) -> str:
    stamp = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
    return f"<url><loc>{loc}</loc>{stamp}</url>"


def article(title: str) -> Route:
    """An article page without a date of its own, so the sitemap's date is the one kept."""
    return html_page(title, STORY * 2 + title)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    """A news site: robots.txt lists an index of a gzip news sitemap and an old archive."""
    with LocalServer() as server:
        u = server.url
        server.add(
            "/robots.txt",
            Route(body=b"User-agent: *\nDisallow: /private/\nSitemap: /sitemap_index.xml\n"),
        )
        server.add(
            "/sitemap_index.xml",
            Route(
                body=(
                    '<?xml version="1.0"?>'
                    '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<sitemap><loc>{u('/news-sitemap.xml.gz')}</loc></sitemap>"
                    f"<sitemap><loc>{u('/archive.xml')}</loc></sitemap>"
                    "</sitemapindex>"
                ).encode(),
                headers={"Content-Type": "application/xml"},
            ),
        )
        news = urlset(
            news_item(u("/2024/rail-line-opens.html"), "Rail line opens", RECENT)
            + news_item(u("/2024/fares.html"), "Fares announced", RECENT - timedelta(hours=1))
            + news_item(u("/video/opening.html"), "Video of the opening", RECENT)
            + news_item(u("/private/draft.html"), "Draft", RECENT)
        )
        server.add(
            "/news-sitemap.xml.gz",
            Route(body=gzip.compress(news), headers={"Content-Type": "application/x-gzip"}),
        )
        server.add(
            "/archive.xml",
            Route(
                body=urlset(plain_item(u("/2019/old.html"), datetime(2019, 5, 1, tzinfo=UTC))),
                headers={"Content-Type": "application/xml"},
            ),
        )
        for path, title in [
            ("/2024/rail-line-opens.html", "Rail line opens"),
            ("/2024/fares.html", "Fares announced"),
            ("/video/opening.html", "Video"),
            ("/private/draft.html", "Draft"),
            ("/2019/old.html", "Old news"),
        ]:
            server.add(path, article(title))
        server.add(
            "/broken.xml", Route(body=b"<html><p>oops", headers={"Content-Type": "text/html"})
        )
        yield server


def settings(database_url: str, sources: list[dict[str, Any]]) -> Any:
    return build_settings(quick_config(database_url, sources))


def run(database_url: str, sources: list[dict[str, Any]]) -> dict[str, RunReport]:
    with open_app(settings(database_url, sources)) as app:
        return {r.source: r for r in app.ingestor.run(app.settings.sources)}


def test_a_sitemap_source_is_crawled_and_broken_ones_fail_alone(
    site: LocalServer, database_url: str
) -> None:
    sources: list[dict[str, Any]] = [
        {"id": "rail", "kind": "sitemap", "url": site.url("/"), "max_age": "2d",
         "deny": ["/video/"]},
        {"id": "broken", "kind": "sitemap", "url": site.url("/broken.xml")},
        {"id": "gone", "kind": "sitemap", "url": site.url("/gone.xml")},
    ]  # fmt: skip
    reports = run(database_url, sources)

    rail = reports["rail"]
    assert rail.status == "ok", rail.error
    assert rail.counts.found == 3  # the video is denied, the archive too old
    assert rail.counts.stored == 2
    assert dict(rail.counts.skipped) == {"robots_disallowed": 1}
    assert site.hits("/2019/old.html") == site.hits("/video/opening.html") == 0
    assert site.hits("/private/draft.html") == 0

    assert (reports["broken"].status, dict(reports["broken"].counts.failed)) == (
        "failed",
        {"sitemap_malformed": 1},
    )
    assert (reports["gone"].status, dict(reports["gone"].counts.failed)) == (
        "failed",
        {"sitemap_http_404": 1},
    )

    with open_app(settings(database_url, sources)) as app:
        docs = {d.url: d for d in app.store.documents("rail") if d.status == "ok"}
        assert set(docs) == {site.url("/2024/rail-line-opens.html"), site.url("/2024/fares.html")}
        # The Google News date is the article's date when the page has none.
        assert docs[site.url("/2024/rail-line-opens.html")].published_at == RECENT
        assert app.store.fetch_state("rail").last_error is None
        assert app.store.fetch_state("rail").last_status == 200
        broken = app.store.fetch_state("broken")
        assert broken.consecutive_failures == 1
        assert broken.last_error is not None and site.url("/broken.xml") in broken.last_error


def test_an_unchanged_sitemap_is_not_read_again_unless_entries_were_left_over(
    sqlite_url: str,
) -> None:
    with LocalServer() as server:
        u = server.url
        items = "".join(
            plain_item(u(f"/a{n}.html"), datetime(2024, 10, 20 - n, tzinfo=UTC)) for n in range(3)
        )
        body = Route(body=urlset(items), headers={"Content-Type": "application/xml"})
        server.add("/all.xml", conditional(body, etag='"all"'))
        server.add("/capped.xml", conditional(body, etag='"capped"'))
        for n in range(3):
            server.add(f"/a{n}.html", article(f"Article {n}"))
        sources: list[dict[str, Any]] = [
            {"id": "all", "kind": "sitemap", "url": u("/all.xml")},
            {"id": "capped", "kind": "sitemap", "url": u("/capped.xml"), "max_articles": 2},
        ]

        first = run(sqlite_url, sources)
        assert (first["all"].counts.found, first["all"].counts.new) == (3, 3)
        assert first["capped"].counts.new == 2  # the two newest
        second = run(sqlite_url, sources)

    assert second["all"].counts.found == 0  # 304: nothing changed
    assert server.requests_to("/all.xml")[1].headers["if-none-match"] == '"all"'
    # Entries were left over, so the capped source reads its sitemap in full again.
    assert "if-none-match" not in server.requests_to("/capped.xml")[1].headers
    assert second["capped"].counts.found == 3


def test_newsingest_crawl_reads_a_sitemap_source(
    tmp_path: Path, site: LocalServer, sqlite_url: str
) -> None:
    config = write_config(
        tmp_path / "news.toml",
        quick_config(
            sqlite_url,
            [
                {"id": "rail", "kind": "sitemap", "url": site.url("/sitemap_index.xml"),
                 "lastmod_after": "2020-01-01T00:00:00Z"},
                {"id": "broken", "kind": "sitemap", "url": site.url("/broken.xml")},
            ],
        ),
    )  # fmt: skip
    result = newsingest("--config", config, "crawl")
    assert result.returncode == 1, result.stderr  # one source failed
    assert "Traceback" not in result.stderr
    header = table_header(result.stdout)
    rail = dict(zip(header, table_row(result.stdout, "rail"), strict=True))
    assert (rail["status"], rail["found"], rail["stored"]) == ("ok", "4", "3")
    broken = table_row(result.stdout, "broken")
    assert broken[1] == "failed" and "sitemap_malformed 1" in broken
