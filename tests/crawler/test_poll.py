"""poll_feed against a real local server: conditional GET, limits and error codes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from crawler.errors import FeedError
from crawler.feeds import poll_feed
from crawler.settings import CrawlSettings
from tests.webserver import (
    LocalServer,
    Route,
    RouteLike,
    conditional,
    gzip_bomb,
    gzipped,
    redirect,
    redirect_loop,
    slow,
    status_page,
    truncated,
)

ETAG = '"v1"'
LAST_MODIFIED = "Tue, 14 May 2024 07:30:00 GMT"
SETTINGS = CrawlSettings(
    timeout=1.0, max_feed_bytes=4096, max_redirects=3, user_agent="newsingest-test/1.0"
)


def rss(*paths: str) -> Route:
    items = "".join(f"<item><title>{p}</title><link>{p}</link></item>" for p in paths)
    body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    return Route(body=body.encode(), headers={"Content-Type": "application/rss+xml"})


@pytest.fixture
def server() -> Iterator[LocalServer]:
    routes: dict[str, RouteLike] = {
        "/feed": conditional(rss("/a", "/b"), etag=ETAG, last_modified=LAST_MODIFIED),
        "/plain": rss("/a"),
        "/gz": gzipped(rss("/gz-story")),
        "/moved": redirect("/feeds/deep"),
        "/feeds/deep": rss("story", "../up"),
        "/missing": status_page(404),
        "/broken": status_page(500),
        "/slow": slow(3, rss("/late")),
        "/huge": Route(
            body=b"<rss>" + b" " * 10_000 + b"</rss>",
            headers={"Content-Type": "application/rss+xml"},
        ),
        "/chunked-huge": Route(
            body=b"<rss>" + b" " * 10_000,
            content_length=False,
            headers={"Content-Type": "application/rss+xml"},
        ),
        "/bomb": gzip_bomb(5_000_000, content_type="application/rss+xml"),
        "/cut": truncated(rss(*(f"/s{i}" for i in range(20))), send=50),
        "/not-a-feed": Route(body=b"hello", headers={"Content-Type": "text/plain"}),
        "/no-validators-304": Route(status=304),
        **redirect_loop("/loop1", "/loop2"),
    }
    with LocalServer(routes) as running:
        yield running


def test_conditional_get_sends_validators_and_304_has_no_entries(server: LocalServer) -> None:
    first = poll_feed("src", server.url("/feed"), etag=None, last_modified=None, settings=SETTINGS)
    assert first.status == 200 and not first.not_modified
    assert first.etag == ETAG and first.last_modified == LAST_MODIFIED
    assert [e.url for e in first.entries] == [server.url("/a"), server.url("/b")]
    assert "if-none-match" not in server.requests_to("/feed")[0].headers

    second = poll_feed(
        "src",
        server.url("/feed"),
        etag=first.etag,
        last_modified=first.last_modified,
        settings=SETTINGS,
    )
    sent = server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == ETAG
    assert sent["if-modified-since"] == LAST_MODIFIED
    assert sent["user-agent"] == "newsingest-test/1.0"
    assert second.status == 304 and second.not_modified
    assert second.entries == ()
    assert (second.etag, second.last_modified) == (ETAG, LAST_MODIFIED)
    assert (second.source, second.url) == ("src", server.url("/feed"))


def test_304_without_validators_keeps_the_old_ones(server: LocalServer) -> None:
    poll = poll_feed(
        "src",
        server.url("/no-validators-304"),
        etag='"old"',
        last_modified=LAST_MODIFIED,
        settings=SETTINGS,
    )
    assert poll.not_modified
    assert (poll.etag, poll.last_modified) == ('"old"', LAST_MODIFIED)


def test_200_without_validators_clears_them(server: LocalServer) -> None:
    poll = poll_feed(
        "src", server.url("/plain"), etag='"old"', last_modified=LAST_MODIFIED, settings=SETTINGS
    )
    assert poll.status == 200 and (poll.etag, poll.last_modified) == (None, None)


def test_gzip_feed_is_inflated(server: LocalServer) -> None:
    poll = poll_feed("src", server.url("/gz"), etag=None, last_modified=None, settings=SETTINGS)
    assert [e.url for e in poll.entries] == [server.url("/gz-story")]


def test_redirect_followed_and_links_resolved_against_the_final_url(server: LocalServer) -> None:
    poll = poll_feed("src", server.url("/moved"), etag=None, last_modified=None, settings=SETTINGS)
    assert poll.url == server.url("/moved")
    assert [e.url for e in poll.entries] == [server.url("/feeds/story"), server.url("/up")]


def test_injected_client_is_used_and_left_open(server: LocalServer) -> None:
    with httpx.Client() as client:
        poll_feed(
            "src",
            server.url("/plain"),
            etag=None,
            last_modified=None,
            settings=SETTINGS,
            client=client,
        )
        assert not client.is_closed


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "http_404"),
        ("/broken", "http_500"),
        ("/slow", "timeout"),
        ("/huge", "too_large"),
        ("/chunked-huge", "too_large"),
        ("/bomb", "too_large"),
        ("/cut", "connection"),
        ("/loop1", "redirect_loop"),
        ("/not-a-feed", "malformed"),
    ],
)
def test_failures_become_feed_errors(server: LocalServer, path: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        poll_feed("src", server.url(path), etag=None, last_modified=None, settings=SETTINGS)
    assert caught.value.reason == reason
    assert caught.value.url == server.url(path)


def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FeedError) as caught:
        poll_feed(
            "src", f"http://127.0.0.1:{port}/feed", etag=None, last_modified=None, settings=SETTINGS
        )
    assert caught.value.reason == "connection"
