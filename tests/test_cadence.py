"""Cadence: adaptive polling of feeds (busy feeds more often, quiet ones less) and jitter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from newsingest.app import open_app
from newsingest.config import build_settings
from scheduler import Scheduler, SchedulerSettings, adapt_interval
from storage.health import HealthStore
from tests.test_cli import article, quick_config, rss
from tests.test_run import wait_for
from tests.webserver import LocalServer, RecordedRequest, Route

SETTINGS = SchedulerSettings(adaptive_min=0.25, adaptive_max=4)
HOUR = timedelta(hours=1)


def test_the_interval_halves_while_news_arrives_and_grows_when_it_stops() -> None:
    busy = [HOUR]
    for _ in range(4):
        busy.append(adapt_interval(busy[-1], HOUR, 3, SETTINGS))
    assert busy == [HOUR, HOUR / 2, HOUR / 4, HOUR / 4, HOUR / 4]
    quiet = [HOUR]
    for _ in range(5):
        quiet.append(adapt_interval(quiet[-1], HOUR, 0, SETTINGS))
    assert quiet[1] == 1.5 * HOUR and quiet[-1] == 4 * HOUR
    off = SchedulerSettings(adaptive_min=1, adaptive_max=1)
    assert adapt_interval(HOUR, HOUR, 5, off) == adapt_interval(HOUR, HOUR, 0, off) == HOUR


@pytest.fixture
def site() -> Iterator[LocalServer]:
    """/busy.xml lists one more article at every poll; /quiet.xml never changes."""
    with LocalServer() as server:
        lock = threading.Lock()
        polls = 0

        def busy(request: RecordedRequest) -> Route:
            nonlocal polls
            with lock:
                polls += 1
                items = []
                for i in range(polls):
                    server.add(f"/busy/{i}.html", article(f"Busy story {i}"))
                    items.append((f"Busy story {i}", server.url(f"/busy/{i}.html")))
            return Route(body=rss(items), headers={"Content-Type": "application/rss+xml"})

        server.add("/busy.xml", busy)
        server.add("/quiet/0.html", article("Quiet story"))
        server.add(
            "/quiet.xml",
            Route(
                body=rss([("Quiet story", server.url("/quiet/0.html"))]),
                headers={"Content-Type": "application/rss+xml"},
            ),
        )
        yield server


def test_busy_feeds_are_polled_more_often_than_quiet_ones(
    sqlite_url: str, site: LocalServer
) -> None:
    config = quick_config(
        sqlite_url,
        [
            {"id": "busy", "kind": "feed", "url": site.url("/busy.xml"), "interval": "2s"},
            {"id": "quiet", "kind": "feed", "url": site.url("/quiet.xml"), "interval": "2s"},
        ],
    )
    config["scheduler"] = {"adaptive_min": 0.25, "adaptive_max": 2, "jitter": "0.2s"}
    settings = build_settings(config)
    with open_app(settings) as app:
        health = HealthStore(app.store.engine)
        scheduler = Scheduler(settings.sources, app.ingestor, settings.scheduler)
        scheduler.start()
        try:
            wait_for(
                lambda: (
                    health.health("quiet").poll_interval == 4.0
                    and health.health("busy").poll_interval == 0.5
                ),
                40,
                "the intervals to settle at their bounds",
            )
            quiet_before = site.hits("/quiet.xml")
            wait_for(lambda: site.hits("/quiet.xml") >= quiet_before + 2, 30, "quiet polls")
        finally:
            scheduler.shutdown()
        stored = app.store.count_documents("busy")
    quiet = [r.received_at for r in site.requests_to("/quiet.xml")]
    # Configured every 2 s; once quiet, the feed is polled every 4 s (jitter adds <= 0.2).
    assert quiet[-1] - quiet[-2] > 3.8, quiet
    assert stored == site.hits("/busy.xml")  # every new article of every poll was fetched


def test_a_restart_keeps_the_schedule_in_the_database(database_url: str) -> None:
    """The slot chosen with jitter survives a restart; a source no longer configured goes."""
    sources = [
        {"id": "kept", "kind": "feed", "url": "http://127.0.0.1:9/kept.xml", "interval": "1h"},
        {"id": "dropped", "kind": "feed", "url": "http://127.0.0.1:9/gone.xml", "interval": "1h"},
    ]
    config = quick_config(database_url, sources)
    config["scheduler"] = {"jitter": "1h"}
    settings = build_settings(config)

    def start(settings: Any) -> dict[str, Any]:
        with open_app(settings) as app:
            scheduler = Scheduler(settings.sources, app.ingestor, settings.scheduler)
            scheduler.start()
            try:
                return scheduler.next_run_times()
            finally:
                scheduler.shutdown()

    first = start(settings)
    assert first.keys() == {"kept", "dropped"}
    # Never run, so due now plus up to an hour of jitter: a fresh start would draw anew.
    config["sources"] = sources[:1]
    again = start(build_settings(config))
    assert again == {"kept": first["kept"]}
