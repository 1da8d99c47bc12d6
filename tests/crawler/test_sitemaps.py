"""Reading sitemaps from a real local server: urlsets, indexes, gzip, Google News, robots.txt."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.errors import SitemapError
from crawler.settings import CrawlSettings
from crawler.sitemaps import SitemapFilter, SitemapPoll, parse_sitemap, poll_sitemaps
from tests.webserver import LocalServer, Route, conditional, gzip_bomb, gzipped, html_page

SETTINGS = CrawlSettings(delay=0, timeout=2.0)
NOW = datetime(2024, 10, 21, 12, 0, tzinfo=UTC)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


def urlset(*urls: str) -> bytes:
    """A urlset; each item is the inner XML of one <url> (or just a loc)."""
    inner = "".join(u if u.lstrip().startswith("<") else f"<url><loc>{u}</loc></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="{NEWS_NS}" '
        'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">'
        f"{inner}</urlset>"
    ).encode()


def url(loc: str, lastmod: str | None = None) -> str:
    return (
        f"<url><loc>{loc}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>"
    )


def index(*locs: str, lastmods: dict[str, str] | None = None) -> bytes:
    lastmods = lastmods or {}
    inner = "".join(
        f"<sitemap><loc>{loc}</loc>"
        + (f"<lastmod>{lastmods[loc]}</lastmod>" if loc in lastmods else "")
        + "</sitemap>"
        for loc in locs
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{inner}</sitemapindex>'
    ).encode()


def xml(body: bytes, **headers: str) -> Route:
    return Route(body=body, headers={"Content-Type": "application/xml", **headers})


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def poll(server: LocalServer, path: str, keep: SitemapFilter) -> SitemapPoll:
    return poll_sitemaps("src", server.url(path), settings=SETTINGS, keep=keep)


def urls_of(result: SitemapPoll) -> list[str]:
    return [e.url for e in result.entries]


# -- urlsets ---------------------------------------------------------------------------


def test_a_urlset_gives_canonical_urls_newest_first(server: LocalServer) -> None:
    server.add(
        "/sitemap.xml",
        xml(
            urlset(
                url(server.url("/old.html"), "2024-01-01"),
                url(server.url("/undated.html")),
                url(server.url("/new.html?utm_source=x"), "2024-10-20T08:00:00+02:00"),
                url("/relative.html", "2024-05"),
                url("mailto:desk@example.org"),
                url(server.url("/new.html")),  # the same page again
            )
        ),
    )
    result = poll_sitemaps("src", server.url("/sitemap.xml"), settings=SETTINGS)
    assert [e.url for e in result.entries] == [
        server.url("/new.html"),
        server.url("/relative.html"),
        server.url("/old.html"),
        server.url("/undated.html"),
    ]
    assert result.skipped == {"bad_url": 1}
    assert result.sitemaps_read == 1
    assert result.status == 200
    assert server.requests_to("/sitemap.xml")[0].headers["user-agent"] == SETTINGS.user_agent


def test_google_news_tags_give_title_date_and_language(server: LocalServer) -> None:
    news = (
        f"<url><loc>{server.url('/a.html')}</loc>"
        "<image:image><image:loc>https://img.example/1.jpg</image:loc>"
        "<image:title>A photo caption</image:title></image:image>"
        "<news:news><news:publication><news:name>The Gazette</news:name>"
        "<news:language>EN</news:language></news:publication>"
        "<news:publication_date>2024-10-21T08:30:00+02:00</news:publication_date>"
        "<news:title>Council votes to rebuild the bridge</news:title></news:news>"
        "<lastmod>2024-10-21T10:00:00Z</lastmod></url>"
    )
    server.add("/news.xml", xml(urlset(news, url(server.url("/b.html")))))
    result = poll_sitemaps("src", server.url("/news.xml"), settings=SETTINGS)
    first, second = result.entries
    assert first.url == server.url("/a.html")
    assert first.title == "Council votes to rebuild the bridge"
    assert first.published_at == datetime(2024, 10, 21, 6, 30, tzinfo=UTC)
    assert first.language == "en"
    # lastmod is not a publication date.
    assert (second.title, second.published_at, second.language) == (None, None, None)


# -- indexes -------------------------------------------------------------------------


def test_an_index_is_followed_into_nested_indexes_and_a_loop_reads_each_file_once(
    server: LocalServer,
) -> None:
    server.add("/index.xml", xml(index(server.url("/a.xml"), server.url("/sub.xml"))))
    server.add("/sub.xml", xml(index(server.url("/b.xml"), server.url("/index.xml"))))
    server.add("/a.xml", xml(urlset(server.url("/1.html"), server.url("/2.html"))))
    server.add("/b.xml", xml(urlset(server.url("/3.html"), server.url("/1.html"))))
    result = poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS)
    assert sorted(urls_of(result)) == [server.url(f"/{n}.html") for n in (1, 2, 3)]
    assert result.errors == ()
    assert result.sitemaps_read == 4
    for path in ("/index.xml", "/sub.xml", "/a.xml", "/b.xml"):
        assert server.hits(path) == 1, path


def test_indexes_nested_too_deep_stop_there_and_the_rest_is_kept(server: LocalServer) -> None:
    server.add("/index.xml", xml(index(server.url("/a.xml"), server.url("/i1.xml"))))
    server.add("/a.xml", xml(urlset(server.url("/shallow.html"))))
    for n in range(1, 6):
        server.add(f"/i{n}.xml", xml(index(server.url(f"/i{n + 1}.xml"))))
    result = poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS)
    assert urls_of(result) == [server.url("/shallow.html")]
    assert [e.reason for e in result.errors] == ["too_deep"]
    assert server.hits("/i4.xml") == 0


def test_a_missing_sitemap_in_an_index_is_reported_and_the_others_are_read(
    server: LocalServer,
) -> None:
    server.add("/index.xml", xml(index(server.url("/gone.xml"), server.url("/a.xml"))))
    server.add("/a.xml", xml(urlset(server.url("/1.html"))))
    result = poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS)
    assert urls_of(result) == [server.url("/1.html")]
    assert [(e.url, e.reason) for e in result.errors] == [(server.url("/gone.xml"), "http_404")]


def test_an_index_whose_sitemaps_all_fail_is_an_error(server: LocalServer) -> None:
    server.add("/index.xml", xml(index(server.url("/gone.xml"))))
    with pytest.raises(SitemapError) as caught:
        poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS)
    assert caught.value.reason == "http_404"
    assert server.url("/gone.xml") in str(caught.value)


# -- gzip ------------------------------------------------------------------------------


def test_gzip_sitemaps_are_read_by_extension_by_magic_and_by_content_encoding(
    server: LocalServer,
) -> None:
    server.add(
        "/index.xml",
        xml(index(server.url("/a.xml.gz"), server.url("/b.xml"), server.url("/c.xml"))),
    )
    server.add(
        "/a.xml.gz",
        Route(
            body=gzip.compress(urlset(server.url("/a.html"))),
            headers={"Content-Type": "application/x-gzip"},
        ),
    )
    # gzip bytes under a name and type that do not say so
    server.add("/b.xml", xml(gzip.compress(urlset(server.url("/b.html")))))
    server.add("/c.xml", gzipped(xml(urlset(server.url("/c.html")))))
    result = poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS)
    assert result.errors == ()
    assert sorted(urls_of(result)) == [server.url(f"/{n}.html") for n in "abc"]


@pytest.mark.parametrize("encoded", [True, False], ids=["content-encoding", "gzip-file"])
def test_a_gzip_bomb_is_capped(server: LocalServer, encoded: bool) -> None:
    bomb = gzip_bomb(20_000_000, content_type="application/xml")
    if not encoded:  # a .gz file served as such: we inflate it ourselves
        bomb = Route(body=bomb.body, headers={"Content-Type": "application/gzip"})
    server.add("/bomb.xml.gz", bomb)
    settings = CrawlSettings(delay=0, timeout=5.0, max_sitemap_bytes=1_000_000)
    with pytest.raises(SitemapError) as caught:
        poll_sitemaps("src", server.url("/bomb.xml.gz"), settings=settings)
    assert caught.value.reason == "too_large"


# -- robots.txt ------------------------------------------------------------------------


def test_a_site_root_reads_the_sitemaps_robots_txt_lists(server: LocalServer) -> None:
    robots = (
        "User-agent: *\nDisallow: /private/\n"
        f"Sitemap: {server.url('/news.xml')}\n"
        "sitemap: /more.xml\n"  # relative, lower case
    )
    server.add("/robots.txt", Route(body=robots.encode(), headers={"Content-Type": "text/plain"}))
    server.add("/news.xml", xml(urlset(server.url("/1.html"))))
    server.add("/more.xml", xml(urlset(server.url("/2.html"))))
    for root in (server.url("/"), server.base_url, server.url("/robots.txt")):
        result = poll_sitemaps("src", root, settings=SETTINGS)
        assert sorted(urls_of(result)) == [server.url("/1.html"), server.url("/2.html")]


def test_without_sitemap_lines_the_conventional_sitemap_xml_is_read(server: LocalServer) -> None:
    server.add("/robots.txt", Route(body=b"User-agent: *\nDisallow:\n"))
    server.add("/sitemap.xml", xml(urlset(server.url("/1.html"))))
    result = poll_sitemaps("src", server.url("/"), settings=SETTINGS)
    assert urls_of(result) == [server.url("/1.html")]


def test_a_site_without_any_sitemap_says_so(server: LocalServer) -> None:
    with pytest.raises(SitemapError) as caught:
        poll_sitemaps("src", server.url("/"), settings=SETTINGS)
    assert caught.value.reason == "no_sitemap"
    assert server.url("/robots.txt") in str(caught.value)
    assert "/sitemap.xml answered 404" in str(caught.value)


# -- filters ---------------------------------------------------------------------------


def test_entries_are_filtered_by_age_and_lastmod_after(server: LocalServer) -> None:
    news_today = (
        f"<url><loc>{server.url('/news-today.html')}</loc><lastmod>2020-01-01</lastmod>"
        "<news:news><news:publication_date>2024-10-21T06:00:00Z</news:publication_date>"
        "</news:news></url>"
    )
    server.add(
        "/sitemap.xml",
        xml(
            urlset(
                url(server.url("/today.html"), "2024-10-21T09:00:00Z"),
                url(server.url("/last-week.html"), "2024-10-14"),
                url(server.url("/undated.html")),
                news_today,
            )
        ),
    )
    keep = SitemapFilter.of(max_age=timedelta(days=2), now=NOW)
    result = poll(server, "/sitemap.xml", keep=keep)
    assert urls_of(result) == [
        server.url("/today.html"),
        server.url("/news-today.html"),  # published today, whatever its lastmod
        server.url("/undated.html"),  # undated entries are kept
    ]
    assert result.filtered == 1

    after = SitemapFilter.of(lastmod_after=datetime(2024, 10, 10), now=NOW)
    assert server.url("/last-week.html") in urls_of(poll(server, "/sitemap.xml", keep=after))
    both = SitemapFilter.of(
        max_age=timedelta(days=30), lastmod_after=datetime(2024, 10, 15), now=NOW
    )
    assert server.url("/last-week.html") not in urls_of(poll(server, "/sitemap.xml", keep=both))


def test_sitemaps_of_an_index_older_than_the_cutoff_are_not_fetched(server: LocalServer) -> None:
    new, old = server.url("/2024-10.xml"), server.url("/2019-01.xml")
    server.add("/index.xml", xml(index(old, new, lastmods={old: "2019-02-01", new: "2024-10-21"})))
    server.add("/2024-10.xml", xml(urlset(server.url("/new.html"))))
    server.add("/2019-01.xml", xml(urlset(server.url("/old.html"))))
    keep = SitemapFilter.of(max_age=timedelta(days=7), now=NOW)
    assert urls_of(poll(server, "/index.xml", keep=keep)) == [server.url("/new.html")]
    assert server.hits("/2019-01.xml") == 0


def test_allow_and_deny_patterns(server: LocalServer) -> None:
    server.add(
        "/sitemap.xml",
        xml(
            urlset(
                server.url("/news/a.html"),
                server.url("/news/live/b.html"),
                server.url("/sport/c.html"),
            )
        ),
    )
    keep = SitemapFilter.of(allow=[r"/news/", r"/sport/"], deny=[r"/live/"])
    assert urls_of(poll(server, "/sitemap.xml", keep=keep)) == [
        server.url("/news/a.html"),
        server.url("/sport/c.html"),
    ]
    only_news = SitemapFilter.of(allow=[r"/news/"])
    assert len(urls_of(poll(server, "/sitemap.xml", keep=only_news))) == 2


def test_the_url_cap_bounds_one_run(server: LocalServer) -> None:
    server.add("/index.xml", xml(index(server.url("/a.xml"), server.url("/b.xml"))))
    server.add("/a.xml", xml(urlset(*(server.url(f"/a{n}.html") for n in range(5)))))
    server.add("/b.xml", xml(urlset(server.url("/b.html"))))
    settings = CrawlSettings(delay=0, timeout=2.0, max_sitemap_urls=3)
    result = poll_sitemaps("src", server.url("/index.xml"), settings=settings)
    assert len(result.entries) == 3
    assert result.skipped == {"sitemap_url_cap": 2}
    assert not result.complete
    assert server.hits("/b.xml") == 0


# -- conditional GET and failures ----------------------------------------------------


def test_an_unchanged_sitemap_answers_304_without_entries(server: LocalServer) -> None:
    server.add("/sitemap.xml", conditional(xml(urlset(server.url("/1.html"))), etag='"v1"'))
    first = poll_sitemaps("src", server.url("/sitemap.xml"), settings=SETTINGS)
    assert (first.status, first.etag, len(first.entries)) == (200, '"v1"', 1)
    again = poll_sitemaps("src", server.url("/sitemap.xml"), settings=SETTINGS, etag=first.etag)
    assert again.not_modified
    assert (again.entries, again.etag) == ((), '"v1"')
    assert server.requests_to("/sitemap.xml")[1].headers["if-none-match"] == '"v1"'


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(status=404, body=b"gone"), "http_404"),
        (Route(status=503, body=b"busy"), "http_503"),
        (html_page("Home"), "malformed"),
        (xml(b"no markup at all"), "malformed"),
        (xml(b""), "malformed"),
        (xml(b"\x1f\x8bnot really gzip"), "malformed"),
    ],
    ids=["404", "503", "html", "text", "empty", "bad-gzip"],
)
def test_a_broken_sitemap_is_a_sitemap_error_naming_its_url(
    server: LocalServer, route: Route, reason: str
) -> None:
    server.add("/sitemap.xml", route)
    with pytest.raises(SitemapError) as caught:
        poll_sitemaps("src", server.url("/sitemap.xml"), settings=SETTINGS)
    assert caught.value.reason == reason
    assert server.url("/sitemap.xml") in str(caught.value)


# -- parsing bytes ---------------------------------------------------------------------


def test_a_truncated_sitemap_gives_the_entries_before_the_cut() -> None:
    body = b"<urlset><url><loc>https://ex.com/a</loc></url><url><loc>https://ex.c"
    parsed = parse_sitemap(body, url="https://ex.com/sitemap.xml")
    assert parsed.urls[0].entry.url == "https://ex.com/a"


def test_a_sitemap_that_is_not_well_formed_is_parsed_leniently() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://ex.com/a?x=1&y=2</loc></url>"  # unescaped &
        b"<url><loc>https://ex.com/b</loc></url></urlset>"
    )
    parsed = parse_sitemap(body, url="https://ex.com/sitemap.xml")
    assert [u.entry.url for u in parsed.urls][-1] == "https://ex.com/b"


def test_entity_bombs_are_not_expanded() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [{entities}]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://ex.com/&lol9;</loc></url></urlset>"
    ).encode()
    try:
        parsed = parse_sitemap(body, url="https://ex.com/sitemap.xml")
    except SitemapError as exc:  # failing is fine too
        assert exc.reason == "malformed"
        return
    assert all(len(u.entry.url) < 100 for u in parsed.urls)  # 10**9 "lol"s would be 3 GB


def test_external_entities_are_not_read_from_disk(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://ex.com/&xxe;</loc></url>"
        "<url><loc>https://ex.com/plain</loc></url></urlset>"
    ).encode()
    parsed = parse_sitemap(body, url="https://ex.com/sitemap.xml")
    locs = [u.entry.url for u in parsed.urls]
    assert "https://ex.com/plain" in locs
    assert not any("top-secret" in loc for loc in locs)


def test_a_stop_request_ends_the_read_before_the_next_file(server: LocalServer) -> None:
    server.add("/index.xml", xml(index(server.url("/a.xml"))))
    server.add("/a.xml", xml(urlset(server.url("/1.html"))))
    stop = threading.Event()
    stop.set()
    result = poll_sitemaps("src", server.url("/index.xml"), settings=SETTINGS, stop=stop)
    assert (result.entries, result.complete) == ((), False)
    assert server.hits("/a.xml") == 0
