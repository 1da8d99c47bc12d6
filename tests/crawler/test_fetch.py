"""fetch_pages end to end: Scrapy in a child process against a real local fixture site."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crawler.fetch import fetch_pages
from crawler.records import FeedEntry, FetchedPage, FetchFailure, FetchResult, PageRequest
from crawler.settings import CrawlSettings
from tests.webserver import (
    LocalServer,
    Route,
    bad_encoding_page,
    gzip_bomb,
    gzipped,
    html_page,
    pdf,
    redirect,
    redirect_loop,
    robots_txt,
    slow,
    status_page,
    truncated,
)

pytestmark = pytest.mark.slow

SETTINGS = CrawlSettings(
    user_agent="newsingest-test/1.0",
    timeout=1.0,
    retries=2,
    retry_backoff=0.3,
    delay=0,
    autothrottle=False,
    concurrency=32,
    concurrency_per_domain=16,
    max_page_bytes=100_000,
    max_redirects=4,
)
HINT = FeedEntry(url="https://feed.example/a", title="From the feed")

SITE: dict[str, Route] = {
    "/robots.txt": robots_txt(["/private"]),
    "/news/a": html_page("A"),
    "/news/b": html_page("B"),
    "/news/c": html_page("C", headers={"X-Custom": "yes"}),
    "/news/gz": gzipped(html_page("Gzipped")),
    "/news/no-type": Route(body=b"<!DOCTYPE html><html><body><p>typeless</p></body></html>"),
    "/news/latin": bad_encoding_page(),
    "/old": redirect("/news/a", status=301),
    "/to-ftp": redirect("ftp://files.example.com/a.html"),
    "/missing": status_page(404),
    "/broken": status_page(500),
    "/busy": status_page(503),
    "/slow": slow(3),
    "/paper.pdf": pdf(),
    "/bomb": gzip_bomb(20_000_000),
    "/big": html_page("Big", "x" * 200_000),
    "/cut": truncated(),
    **redirect_loop("/loop/a", "/loop/b"),
}
PRIVATE = ["/private/1", "/private/2", "/private/3", "/private/4"]
EXPECTED_FAILURES = {
    "/missing": "http_404",
    "/broken": "http_500",
    "/busy": "http_503",
    "/slow": "timeout",
    "/paper.pdf": "not_html",
    "/bomb": "too_large",
    "/big": "too_large",
    "/cut": "connection",
    "/loop/a": "redirect_loop",
    "/to-ftp": "bad_redirect",
    **dict.fromkeys(PRIVATE, "robots_disallowed"),
}


@dataclass
class Crawl:
    server: LocalServer
    results: dict[str, FetchResult]  # by path
    arrivals: dict[str, float]  # seconds after the crawl started
    count: int
    requested: int


@pytest.fixture(scope="module")
def crawl() -> Iterator[Crawl]:
    """Crawl the whole fixture site once; the tests below look at the outcome."""
    with LocalServer(SITE) as server:
        paths = [p for p in SITE if p not in ("/robots.txt", "/loop/b")] + PRIVATE
        requests = [
            PageRequest(
                url=server.url(p),
                source="fixture",
                hint=HINT if p in ("/news/a", "/missing") else None,
            )
            for p in paths
        ]
        started = time.monotonic()
        results: dict[str, FetchResult] = {}
        arrivals: dict[str, float] = {}
        count = 0
        for result in fetch_pages(requests, SETTINGS):
            count += 1
            path = result.url.removeprefix(server.base_url)
            results[path] = result
            arrivals[path] = time.monotonic() - started
        yield Crawl(server, results, arrivals, count, len(requests))


def test_exactly_one_result_per_request(crawl: Crawl) -> None:
    assert crawl.count == crawl.requested == len(crawl.results)


@pytest.mark.parametrize(
    "path", ["/news/a", "/news/b", "/news/c", "/news/gz", "/news/no-type", "/news/latin"]
)
def test_html_pages_are_fetched(crawl: Crawl, path: str) -> None:
    page = crawl.results[path]
    assert isinstance(page, FetchedPage), page
    assert page.status == 200 and page.source == "fixture"
    assert page.final_url == crawl.server.url(path)
    assert page.body.startswith(b"<") and b"</html>" in page.body  # gzip inflated
    assert page.fetched_at.tzinfo is not None
    assert page.encoding
    assert all(name == name.lower() for name in page.headers)


def test_page_headers_hint_and_user_agent(crawl: Crawl) -> None:
    page = crawl.results["/news/c"]
    assert isinstance(page, FetchedPage)
    assert page.headers["x-custom"] == "yes"
    assert page.headers["content-type"].startswith("text/html")
    assert crawl.results["/news/a"].hint == HINT
    assert crawl.results["/missing"].hint == HINT
    assert crawl.results["/news/b"].hint is None
    agent = crawl.server.requests_to("/news/a")[0].headers["user-agent"]
    assert agent == "newsingest-test/1.0"


def test_redirect_gives_the_final_url(crawl: Crawl) -> None:
    page = crawl.results["/old"]
    assert isinstance(page, FetchedPage)
    assert page.url == crawl.server.url("/old")
    assert page.final_url == crawl.server.url("/news/a")


@pytest.mark.parametrize(("path", "reason"), sorted(EXPECTED_FAILURES.items()))
def test_faults_become_failures_with_reasons(crawl: Crawl, path: str, reason: str) -> None:
    failure = crawl.results[path]
    assert isinstance(failure, FetchFailure), failure
    assert failure.reason == reason, failure.detail
    assert failure.detail
    if reason.startswith("http_"):
        assert failure.status == int(reason.removeprefix("http_"))


def test_robots_disallowed_urls_are_never_requested(crawl: Crawl) -> None:
    # Scrapy 2.19 lets concurrent requests past a robots.txt still downloading;
    # SharedRobotsTxtMiddleware closes that gap.
    assert all(crawl.server.hits(path) == 0 for path in PRIVATE)
    assert crawl.server.hits("/robots.txt") == 1


def test_retries_retry_with_exponential_backoff(crawl: Crawl) -> None:
    assert crawl.server.hits("/missing") == 1  # 404 is final
    assert crawl.server.hits("/broken") == SETTINGS.retries + 1
    hits = crawl.server.requests_to("/busy")
    assert len(hits) == SETTINGS.retries + 1
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(hits)]
    assert gaps[0] >= SETTINGS.retry_backoff * 0.9
    assert gaps[1] >= 2 * SETTINGS.retry_backoff * 0.9


def test_results_stream_while_slow_pages_download(crawl: Crawl) -> None:
    # The timeout route takes three 1 s attempts; fast pages must not wait for it.
    assert crawl.arrivals["/news/b"] < crawl.arrivals["/slow"] - 2


def test_no_requests_start_no_process() -> None:
    assert list(fetch_pages([], SETTINGS)) == []


def _crawler_children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "newsingest-crawler"]


@pytest.fixture
def slow_site() -> Iterator[LocalServer]:
    with LocalServer({"/fast": html_page("Fast"), "/slow1": slow(6), "/slow2": slow(6)}) as s:
        yield s


def test_closing_early_stops_the_child(slow_site: LocalServer) -> None:
    settings = SETTINGS.model_copy(update={"timeout": 10.0, "retries": 0})
    requests = [PageRequest(url=slow_site.url(p), source="s") for p in ("/fast", "/slow1")]
    results = fetch_pages(requests, settings)
    first = next(results)
    assert first.url.endswith("/fast")
    assert _crawler_children()
    results.close()
    assert _crawler_children() == []


def test_a_dead_child_leaves_crashed_failures(slow_site: LocalServer) -> None:
    settings = SETTINGS.model_copy(update={"timeout": 10.0, "retries": 0})
    paths = ("/fast", "/slow1", "/slow2")
    results = fetch_pages([PageRequest(url=slow_site.url(p), source="s") for p in paths], settings)
    assert isinstance(next(results), FetchedPage)
    (child,) = _crawler_children()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    rest = list(results)
    assert [r.url.removeprefix(slow_site.base_url) for r in rest] == ["/slow1", "/slow2"]
    assert all(isinstance(r, FetchFailure) and r.reason == "crawler_crashed" for r in rest)
    assert isinstance(rest[0], FetchFailure) and "exit code -9" in rest[0].detail
    assert _crawler_children() == []


def test_a_silent_child_is_stopped_after_the_idle_timeout() -> None:
    # /stuck answers long after the idle timeout and well within the download timeout,
    # so a page from it (rather than a failure) would mean the idle timeout never fired.
    # The idle timeout leaves room for Scrapy's start-up on a loaded machine.
    settings = SETTINGS.model_copy(update={"timeout": 120.0, "retries": 0})
    with LocalServer({"/fast": html_page("Fast"), "/stuck": slow(60)}) as site:
        requests = [PageRequest(url=site.url(p), source="s") for p in ("/fast", "/stuck")]
        results = list(fetch_pages(requests, settings, idle_timeout=15.0))
    fast, stuck = results
    assert isinstance(fast, FetchedPage)
    assert isinstance(stuck, FetchFailure) and stuck.reason == "crawler_crashed"
    assert "stopped answering" in stuck.detail
    assert _crawler_children() == []
