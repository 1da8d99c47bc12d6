"""What the web throws at an unattended crawl, end to end through one ingest pass.

Each fault is served by a real local server (``tests.webserver`` for whole answers,
``tests.faults`` for what needs the socket) and must end as a recorded per-URL or
per-source failure with its reason, while the rest of the run goes on and stores the
good articles. ``tests/crawler`` checks the fetcher's and the poller's reason codes
in isolation; here the whole path (poll, fetch, extract, store) is exercised.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.fetch import fetch_pages
from crawler.records import FetchFailure, PageRequest
from crawler.settings import CrawlSettings
from newsingest.app import open_app
from newsingest.config import build_settings
from tests.faults import FaultServer, huge, reset, trickle
from tests.webserver import (
    LocalServer,
    RecordedRequest,
    Route,
    gzip_bomb,
    html_page,
    redirect,
    redirect_loop,
    status_page,
)

STORY = (
    "The river authority reopened the old lock on Friday after a winter of repairs. "
    "Barges queued from dawn, and the lock keeper said traffic would double by summer, "
    "when the new moorings for houseboats are finished and the towpath reopens. "
)
MB = 1_000_000


def rss(items: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{link}</link></item>" for t, link in items)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>River</title>'
        f"{body}</channel></rss>"
    ).encode()


def feed(items: list[tuple[str, str]]) -> Route:
    return Route(body=rss(items), headers={"Content-Type": "application/rss+xml"})


def burst(failures: int, then: Route, status: int = 503) -> Callable[[RecordedRequest], Route]:
    """``status`` for the first ``failures`` requests, then ``then``."""
    seen = 0
    lock = threading.Lock()

    def answer(request: RecordedRequest) -> Route:
        nonlocal seen
        with lock:
            seen += 1
            return status_page(status) if seen <= failures else then

    return answer


def page(body: bytes, charset: str = "utf-8") -> Route:
    return Route(body=body, headers={"Content-Type": f"text/html; charset={charset}"})


MIXED = (
    "<html><head><title>Mixed</title></head><body><article><h1>Caf\u00e9 owners</h1><p>".encode()
    + STORY.encode()
    + " Cr\u00e8me br\u00fbl\u00e9e, na\u00efve caf\u00e9s. ".encode()
    + b"Then Latin-1 bytes: caf\xe9 cr\xe8me \xff\xfe and a stray \x80\x81. "
    + STORY.encode()
    + b"</p></article></body></html>"
)
BROKEN = (
    "<html><head><title>Broken</title><body><div><div><article><h1>Broken markup"
    "<p>" + STORY + "<p>Second paragraph <b>bold <i>both</b> italic</i> " + STORY + "</span>"
    "</div></td><table><tr><td>cell<p>" + STORY + "<!-- unclosed comment"
).encode()

HOSTILE_FEED = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<rss version="2.0"><channel><title>&f;</title>
<item><title>&f;&xxe;</title><link>/hostile/1.html</link><description>&f;</description></item>
</channel></rss>"""


@pytest.fixture
def servers() -> Iterator[tuple[LocalServer, FaultServer]]:
    with (
        LocalServer() as site,
        FaultServer(
            {
                "/trickle.html": trickle(html_page("Trickle", STORY).body, every=0.15),
                "/reset.html": reset(),
                "/huge.html": huge(100 * MB),
                "/endless.html": huge(100 * MB, declare=False),
                "/trickle.xml": trickle(rss([("x", "/x")]), every=0.15),
                "/reset.xml": reset(),
            }
        ) as faults,
    ):
        yield site, faults


def settings_for(database_url: str, sources: list[dict[str, Any]]) -> Any:
    return build_settings(
        {
            "database": {"url": database_url},
            "crawl": {
                "delay": 0,
                "autothrottle": False,
                "concurrency_per_domain": 16,
                "timeout": 1.0,
                "retries": 2,
                "retry_backoff": 0.05,
                "max_page_bytes": 2 * MB,
                "max_feed_bytes": 2 * MB,
                "max_redirects": 4,
            },
            "pipeline": {"workers": 1, "min_text_chars": 100},
            "sources": sources,
        }
    )


def test_every_fault_is_a_recorded_failure_and_the_run_goes_on(
    sqlite_url: str, servers: tuple[LocalServer, FaultServer]
) -> None:
    site, faults = servers
    expected = {
        site.url("/good.html"): "ok",
        site.url("/burst.html"): "ok",  # two 503s, then the second retry succeeds
        site.url("/mixed.html"): "ok",
        site.url("/broken.html"): "ok",
        site.url("/down.html"): "http_503",  # a burst longer than the retries
        site.url("/bomb.html"): "too_large",
        site.url("/loop/a"): "redirect_loop",
        site.url("/to-ftp"): "bad_redirect",
        site.url("/to-js"): "bad_redirect",
        faults.url("/trickle.html"): "timeout",
        faults.url("/reset.html"): "connection",
        faults.url("/huge.html"): "too_large",
        faults.url("/endless.html"): "too_large",
    }
    site.add("/good.html", html_page("Good", STORY * 2))
    site.add("/burst.html", burst(2, html_page("Burst", STORY * 2)))
    site.add("/down.html", burst(10, html_page("Down", STORY * 2)))
    site.add("/mixed.html", page(MIXED))
    site.add("/broken.html", page(BROKEN))
    site.add("/bomb.html", gzip_bomb(50 * MB))
    for path, route in redirect_loop("/loop/a", "/loop/b").items():
        site.add(path, route)
    site.add("/to-ftp", redirect("ftp://files.example.org/a.html"))
    site.add("/to-js", redirect("javascript:alert(1)"))
    site.add("/feed.xml", feed([(url.rsplit("/", 1)[-1], url) for url in expected]))
    site.add("/hostile.xml", Route(body=HOSTILE_FEED, headers={"Content-Type": "text/xml"}))
    site.add("/hostile/1.html", html_page("Hostile", STORY * 2))
    sources = [
        {"id": "river", "kind": "feed", "url": site.url("/feed.xml")},
        {"id": "hostile", "kind": "feed", "url": site.url("/hostile.xml")},
        {"id": "trickling", "kind": "feed", "url": faults.url("/trickle.xml")},
        {"id": "resetting", "kind": "feed", "url": faults.url("/reset.xml")},
        {"id": "flaky", "kind": "feed", "url": site.url("/flaky.xml")},
    ]
    site.add("/flaky.xml", burst(1, feed([("good", site.url("/good.html"))]), status=502))

    with open_app(settings_for(sqlite_url, sources)) as app:
        started = time.monotonic()
        reports = {r.source: r for r in app.ingestor.run(app.settings.sources)}
        took = time.monotonic() - started
        outcomes = {}
        for url in expected:
            doc = app.store.document(url)
            assert doc is not None, f"no row for {url}"
            outcomes[url] = "ok" if doc.status == "ok" else doc.reason
        mixed = app.store.document(site.url("/mixed.html"))
        broken = app.store.document(site.url("/broken.html"))
        hostile = app.store.document(site.url("/hostile/1.html"))
        states = {s: app.store.fetch_state(s) for s in ("trickling", "resetting", "flaky")}
        # The flaky feed's burst is over: the next poll is fine.
        again = {r.source: r for r in app.ingestor.run([app.settings.source("flaky")])}

    assert outcomes == expected
    river = reports["river"]
    assert river.status == "ok" and river.counts.stored == 4
    assert river.counts.failed_total == len(expected) - 4
    # Every fault is bounded by the timeout and the caps: nothing hangs the run.
    assert took < 30, took
    # Valid UTF-8 survives beside the invalid bytes, which become U+FFFD.
    assert mixed is not None and mixed.text is not None and mixed.title == "Café owners"
    assert "Crème brûlée, naïve cafés" in mixed.text and "caf\ufffd" in mixed.text
    assert broken is not None and broken.text is not None and "Second paragraph" in broken.text
    # Entity expansion did not happen (no megabytes of "a"), and /etc/passwd was not read.
    assert reports["hostile"].status == "ok" and hostile is not None and hostile.status == "ok"
    assert hostile.title is not None and "root:" not in (hostile.title + (hostile.text or ""))
    assert len(hostile.title) < 1000
    assert reports["trickling"].counts.failed == {"feed_timeout": 1}
    assert reports["resetting"].counts.failed == {"feed_connection": 1}
    assert reports["flaky"].counts.failed == {"feed_http_502": 1}
    assert states["trickling"].consecutive_failures == 1 and states["trickling"].last_error
    assert states["resetting"].consecutive_failures == 1
    assert again["flaky"].status == "ok" and again["flaky"].counts.found == 1


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in kB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def peak_rss_during(requests: list[PageRequest], settings: CrawlSettings) -> dict[str, int]:
    """Fetch ``requests``, sampling the RSS (kB) of this process and its children."""
    me = os.getpid()
    peak = {"parent": rss_kb(me), "child": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["parent"] = max(peak["parent"], rss_kb(me))
            for child in children(me):
                # Only once it is the crawler: between fork and exec a child still
                # shows this process's memory.
                if b"spawn_main" in _cmdline(child):
                    peak["child"] = max(peak["child"], rss_kb(child))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        results = list(fetch_pages(requests, settings))
    finally:
        done.set()
        sampler.join()
    assert peak["child"] > 0, "the sampler never saw the crawler process"
    peak["failures"] = sum(isinstance(r, FetchFailure) and r.reason == "too_large" for r in results)
    return peak


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_100_mb_page_and_a_gzip_bomb_keep_memory_bounded() -> None:
    settings = CrawlSettings(
        delay=0, autothrottle=False, timeout=20, retries=0, max_page_bytes=2 * MB
    )
    with (
        FaultServer({"/endless.html": huge(100 * MB, declare=False)}) as faults,
        LocalServer({"/bomb.html": gzip_bomb(100 * MB), "/small.html": html_page("Small")}) as site,
    ):
        small = peak_rss_during([PageRequest(url=site.url("/small.html"), source="s")], settings)
        faulty = peak_rss_during(
            [
                PageRequest(url=faults.url("/endless.html"), source="s"),
                PageRequest(url=site.url("/bomb.html"), source="s"),
            ],
            settings,
        )
    assert faulty["failures"] == 2
    # 100 MB were offered twice; neither process grows by more than a few cap's worth
    # over a crawl of one small page.
    assert faulty["parent"] - small["parent"] < 20_000, (small, faulty)
    assert faulty["child"] - small["child"] < 20_000, (small, faulty)
