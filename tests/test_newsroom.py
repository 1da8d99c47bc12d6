"""Tests of the bundled sample newsroom, against the real server on 127.0.0.1."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import httpx
import pytest

from newsingest.demo.articles import load_articles
from newsingest.demo.newsroom import Newsroom, Response

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_STORY = "north-korean-troops-russia-2024-10"


@pytest.fixture(scope="module")
def newsroom() -> Iterator[Newsroom]:
    """Serve the bundled newsroom once for the whole module."""
    with Newsroom() as room:
        yield room


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """An HTTP client that ignores proxy settings from the environment."""
    with httpx.Client(trust_env=False, timeout=10) as http:
        yield http


def parse_feed(client: httpx.Client, url: str) -> feedparser.FeedParserDict:
    """Download a feed and parse the bytes, as the crawler does."""
    response = client.get(url)
    assert response.status_code == 200
    return feedparser.parse(response.content)


def test_bundled_data_has_the_promised_shape() -> None:
    articles = load_articles()
    publishers = {p for a in articles for p in a.publishers}
    assert len(publishers) >= 5
    assert len([a for a in articles if not a.seed]) >= 40
    assert len([a for a in articles if a.syndicated]) >= 8
    assert all(len(a.publishers) <= 3 for a in articles)
    assert all(a.published_at.utcoffset() is not None for a in articles)
    # Several stories are told by several outlets (ECB+ clusters).
    stories: dict[str, set[str]] = {}
    for a in articles:
        stories.setdefault(a.story, set()).add(a.slug)
    assert sum(1 for slugs in stories.values() if len(slugs) >= 2) >= 5


def test_every_feed_parses_and_lists_the_right_article_urls(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    formats = set()
    for publisher_id, url in newsroom.feed_urls().items():
        feed = parse_feed(client, url)
        assert not feed.bozo, (publisher_id, feed.get("bozo_exception"))
        formats.add(feed.version[:3])
        # Root-relative RSS links resolve against the feed's own URL.
        links = [urljoin(url, entry.link) for entry in feed.entries]
        assert links == newsroom.article_urls(publisher_id)
        for entry in feed.entries:
            assert entry.title
            assert entry.published_parsed
            assert entry.author
    assert formats == {"rss", "ato"}


def test_some_feeds_use_relative_links(newsroom: Newsroom, client: httpx.Client) -> None:
    relative = []
    for publisher_id, url in newsroom.feed_urls().items():
        feed = parse_feed(client, url)
        if not feed.entries[0].link.startswith("http"):
            relative.append(publisher_id)
        raw = client.get(url).text
        if 'xml:base="' in raw and 'href="http' not in raw.split("<entry>", 1)[1]:
            relative.append(publisher_id)  # Atom: feedparser already resolved them
    assert len(set(relative)) >= 2


def test_every_article_page_is_html_with_its_title(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    for publisher in newsroom.publishers:
        for article in newsroom.articles_of(publisher.id):
            response = client.get(newsroom.url(article.path(publisher.id)))
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            page = response.text
            assert "<title>" in page and html.escape(article.title) in page
            for needle in (
                '<meta property="og:title"',
                '<meta property="og:type" content="article">',
                '<meta property="article:published_time"',
                '<link rel="canonical"',
                '<meta name="author"',
                "facebook.com/sharer",
                "x.com/intent/tweet",
                "mailto:",
            ):
                assert needle in page, (publisher.id, needle)
            assert re.search(r"\d+ Comments", page)
            assert "©" in page or "Copyright" in page
            assert "cookie" in page.lower() and "newsletter" in page.lower()
            # The related-articles list links to other articles of the same publisher.
            others = {a.path(publisher.id) for a in newsroom.articles_of(publisher.id)}
            linked = set(re.findall(r'href="(/[^"]+\.html)"', page)) & others
            assert linked - {article.path(publisher.id)}


def test_two_publishers_put_an_ai_notice_in_the_body(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    with_notice = set()
    for publisher in newsroom.publishers:
        page = client.get(newsroom.article_urls(publisher.id)[-1]).text
        if "generated with the help of AI" in page or "AI-assisted content" in page:
            with_notice.add(publisher.id)
    assert len(with_notice) == 2


def test_conditional_get_answers_304(newsroom: Newsroom, client: httpx.Client) -> None:
    urls = [*newsroom.feed_urls().values(), newsroom.article_urls("metro-ledger")[0]]
    for url in urls:
        first = client.get(url)
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        by_etag = client.get(url, headers={"If-None-Match": etag})
        by_date = client.get(url, headers={"If-Modified-Since": last_modified})
        assert (by_etag.status_code, by_date.status_code) == (304, 304)
        assert by_etag.content == b""
        changed = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200


def test_feeds_are_gzipped_when_the_client_accepts_it(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    url = newsroom.feed_urls()["harbour-gazette"]
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.content == plain.content  # httpx decodes the gzip body


def test_robots_txt_forbids_the_private_area(newsroom: Newsroom, client: httpx.Client) -> None:
    robots = client.get(newsroom.url("/robots.txt"))
    assert robots.status_code == 200
    assert "Disallow: /*/private/" in robots.text
    front = client.get(newsroom.url("/harbour-gazette/")).text
    assert "/harbour-gazette/private/" in front  # a link a polite crawler must skip


def test_syndicated_articles_appear_word_for_word_under_several_publishers(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    syndicated = [a for a in newsroom.articles if a.syndicated]
    assert len(syndicated) >= 8
    for article in syndicated:
        for publisher_id in article.publishers:
            url = newsroom.url(article.path(publisher_id))
            assert url in newsroom.article_urls(publisher_id)
            page = client.get(url).text
            assert all(html.escape(p) in page for p in article.paragraphs)


def test_each_seed_appears_under_a_different_publisher(newsroom: Newsroom) -> None:
    seeds = [a for a in newsroom.articles if a.seed]
    assert len(seeds) == 5
    assert len({a.publishers for a in seeds}) == 5
    assert all(len(a.publishers) == 1 for a in seeds)
    assert all(a.story == SEED_STORY for a in seeds)
    assert all(a.published_at.strftime("%Y-%m-%d") >= "2024-10-20" for a in seeds)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="needs ../shared/seeds beside the project")
def test_seed_lines_are_kept_exactly_with_their_boilerplate(
    newsroom: Newsroom, client: httpx.Client
) -> None:
    labels = json.loads((SEEDS / "labels.json").read_text(encoding="utf-8"))["files"]
    by_origin = {a.origin: a for a in newsroom.articles if a.seed}
    for name, label in labels.items():
        article = by_origin[f"seeds/{name}"]
        lines = (SEEDS / name).read_text(encoding="utf-8").splitlines()
        assert list(article.paragraphs) == [line for line in lines if line.strip()]
        page = client.get(newsroom.url(article.path(article.publishers[0]))).text
        for boilerplate in label["boilerplate"]:
            assert html.escape(boilerplate) in page


def test_extra_routes_serve_faults(client: httpx.Client) -> None:
    def unavailable(_: BaseHTTPRequestHandler) -> Response:
        return Response(503, b"busy", {"Retry-After": "1"}, "text/plain")

    def truncated(handler: BaseHTTPRequestHandler) -> None:
        # Promise more than is sent, then hang up: a raw route writes for itself.
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"<html>cut")
        handler.close_connection = True

    article = {
        "slug": "only-one",
        "title": "The only article",
        "paragraphs": ["One paragraph."],
        "author": "A. Tester",
        "published_at": "2024-10-01T08:00:00Z",
        "publishers": ["capital-wire"],
        "story": "test",
    }
    with Newsroom(articles=[article], extra_routes={"/faults/503": unavailable}) as room:
        room.add_route("/faults/truncated*", truncated)
        assert room.article_urls("capital-wire") == [
            room.url("/capital-wire/2024/10/only-one.html")
        ]
        assert room.article_urls("harbour-gazette") == []
        busy = client.get(room.url("/faults/503"))
        assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(room.url("/faults/truncated/page.html"))
        assert client.get(room.url("/no/such/page.html")).status_code == 404
        assert client.head(room.url("/capital-wire/feed.xml")).status_code == 200
