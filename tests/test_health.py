"""Source health: back-off of failing feeds, dead sources, revival, and ``status``.

The scheduler runs in this process against real local servers and a real database
(SQLite and PostgreSQL); the commands a user types (``status``, ``revive``) run as
subprocesses.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler.sources import SourceConfig
from newsingest.app import open_app
from newsingest.config import Settings, build_settings
from scheduler import Scheduler, SchedulerSettings, backoff_delay, next_poll
from storage.health import HealthStore, SourceHealth
from storage.records import FetchState, SourceRecord
from storage.settings import DatabaseSettings
from storage.store import open_store
from tests.test_cli import (
    newsingest,
    quick_config,
    serve_feed,
    table_header,
    table_row,
    write_config,
)
from tests.test_run import wait_for
from tests.webserver import LocalServer, Route, status_page

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SOURCE = "harbour"


# -- the policy ------------------------------------------------------------------------


def feed(**kw: Any) -> SourceConfig:
    return SourceConfig(id=SOURCE, kind="feed", url="http://127.0.0.1/feed", **kw)


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    hour, cap = timedelta(hours=1), timedelta(hours=6)
    assert [backoff_delay(hour, n, cap) for n in range(5)] == [
        hour,
        2 * hour,
        4 * hour,
        cap,
        cap,
    ]
    # A cap below the interval never makes a failing source poll more often.
    assert backoff_delay(hour, 3, timedelta(minutes=5)) == hour


def test_next_poll_follows_cadence_backoff_and_death() -> None:
    settings = SchedulerSettings(backoff_cap="1d")
    source = feed(interval="1h")
    healthy = FetchState(source=SOURCE, last_attempt_at=NOW)
    failing = FetchState(source=SOURCE, last_attempt_at=NOW, consecutive_failures=3)
    alive, dead = SourceHealth(source=SOURCE), SourceHealth(source=SOURCE, dead_at=NOW)

    def due(state: FetchState, health: SourceHealth) -> datetime | None:
        return next_poll(
            source, state=state, health=health, last_started=NOW, settings=settings, now=NOW
        )

    assert due(healthy, alive) == NOW + timedelta(hours=1)
    assert due(failing, alive) == NOW + timedelta(hours=8)
    assert due(healthy, dead) is None
    never = next_poll(
        source,
        state=FetchState(source=SOURCE),
        health=alive,
        last_started=None,
        settings=settings,
        now=NOW,
    )
    assert never == NOW


# -- health in the database --------------------------------------------------------------


@pytest.fixture
def health_store(database_url: str) -> Iterator[HealthStore]:
    store = open_store(DatabaseSettings(url=database_url))
    store.sync_sources([SourceRecord(id=SOURCE, kind="feed", url="http://a/feed")])
    try:
        yield HealthStore(store.engine)
    finally:
        store.dispose()


def record(health: HealthStore, reason: str | None, url: str = "http://a/feed") -> SourceHealth:
    return health.record_poll_outcome(
        SOURCE, url=url, reason=reason, at=datetime.now(UTC), dead_after_not_found=3
    )


def test_410_gone_is_dead_at_once(health_store: HealthStore) -> None:
    assert not record(health_store, None).dead
    gone = record(health_store, "http_410")
    assert gone.dead and gone.dead_reason == "http_410" and gone.dead_url == "http://a/feed"
    assert health_store.health(SOURCE) == gone


def test_three_404s_in_a_row_are_dead_and_anything_else_breaks_the_streak(
    health_store: HealthStore,
) -> None:
    record(health_store, "http_404")
    record(health_store, "http_404")
    assert record(health_store, "http_500").consecutive_not_found == 0
    record(health_store, "http_404")
    assert record(health_store, None).consecutive_not_found == 0
    assert not record(health_store, "http_404").dead
    assert not record(health_store, "http_404").dead
    third = record(health_store, "http_404")
    assert third.dead and third.dead_reason == "http_404 x3"


def test_revive_by_command_or_by_a_new_url(health_store: HealthStore) -> None:
    record(health_store, "http_410")
    assert health_store.revive_changed({SOURCE: "http://a/feed"}) == []  # same URL: dead
    assert health_store.revive(SOURCE) is True
    assert not health_store.health(SOURCE).dead
    assert health_store.revive(SOURCE) is False
    record(health_store, "http_410")
    assert health_store.revive_changed({SOURCE: "http://b/feed"}) == [SOURCE]
    assert not health_store.health(SOURCE).dead


# -- the scheduler against real servers ---------------------------------------------------


def settings_for(database_url: str, feed_url: str, **scheduler: Any) -> Settings:
    config = quick_config(
        database_url, [{"id": SOURCE, "kind": "feed", "url": feed_url, "interval": "0.5s"}]
    )
    config["scheduler"] = {"backoff_cap": "2s", **scheduler}
    return build_settings(config)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def test_a_failing_feed_is_polled_less_and_less_often(database_url: str, site: LocalServer) -> None:
    site.add("/feed.xml", status_page(500))
    settings = settings_for(database_url, site.url("/feed.xml"))
    with open_app(settings) as app:
        scheduler = Scheduler(settings.sources, app.ingestor, settings.scheduler)
        scheduler.start()
        try:
            wait_for(lambda: site.hits("/feed.xml") >= 4, 15, "four polls of the failing feed")
        finally:
            scheduler.shutdown()
        state = app.store.fetch_state(SOURCE)
    times = [r.received_at for r in site.requests_to("/feed.xml")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 0.5 s cadence: 1 s after the first failure, then the 2 s cap (not 0.5 s each).
    assert 0.8 < gaps[0] < 1.6, gaps
    assert all(1.8 < g < 2.8 for g in gaps[1:3]), gaps
    assert state.consecutive_failures >= 4 and state.last_error


def test_a_gone_feed_is_dead_reported_and_revived_by_the_command(
    tmp_path: Path, database_url: str, site: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    site.add("/feed.xml", status_page(410))
    settings = settings_for(database_url, site.url("/feed.xml"))
    config = write_config(
        tmp_path / "news.toml",
        quick_config(
            database_url,
            [{"id": SOURCE, "kind": "feed", "url": site.url("/feed.xml"), "interval": "0.5s"}],
        ),
    )
    caplog.set_level(logging.WARNING, logger="storage.health")
    with open_app(settings) as app:
        scheduler = Scheduler(settings.sources, app.ingestor, settings.scheduler)
        scheduler.start()
        try:
            wait_for(lambda: HealthStore(app.store.engine).health(SOURCE).dead, 10, "death")
            time.sleep(1.5)  # three slots: a dead feed is not polled
            assert site.hits("/feed.xml") == 1
            assert f"source {SOURCE} is dead (http_410" in caplog.text
            assert f"newsingest revive {SOURCE}" in caplog.text

            status = newsingest("--config", config, "status")
            assert status.returncode == 0, status.stderr
            row = dict(
                zip(table_header(status.stdout), table_row(status.stdout, SOURCE), strict=True)
            )
            assert row["health"] == "dead (http_410)" and row["next run"] == "-"
            assert "410" in row["last error"]
            (as_json,) = json.loads(newsingest("--config", config, "status", "--json").stdout)
            assert as_json["health"] == "dead" and as_json["next_run_at"] is None
            assert as_json["dead_reason"] == "http_410" and as_json["last_run_status"] == "failed"

            # The publisher brings the feed back; an operator revives the source.
            serve_feed(site, ["Ferry terminal opens"])
            revived = newsingest("--config", config, "revive", SOURCE)
            assert revived.returncode == 0 and "revived" in revived.stdout, revived.stderr
            wait_for(lambda: app.store.count_documents(SOURCE) == 1, 20, "the revived poll")
        finally:
            scheduler.shutdown()
    (after,) = json.loads(newsingest("--config", config, "status", "--json").stdout)
    assert after["health"] == "ok" and after["documents"] == 1
    assert after["next_run_at"] is not None


def test_status_shows_a_failing_source_with_its_backed_off_next_run(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    site.add("/feed.xml", Route(status=503))
    source = {"id": SOURCE, "kind": "feed", "url": site.url("/feed.xml"), "interval": "1h"}
    config = write_config(tmp_path / "news.toml", quick_config(sqlite_url, [source]))
    for _ in range(2):
        assert newsingest("--config", config, "crawl").returncode == 1
    (row,) = json.loads(newsingest("--config", config, "status", "--json").stdout)
    assert row["health"] == "failing" and row["consecutive_failures"] == 2
    assert "503" in row["last_error"]
    wait = datetime.fromisoformat(row["next_run_at"]) - datetime.fromisoformat(row["last_run_at"])
    assert timedelta(hours=3, minutes=59) < wait <= timedelta(hours=4, minutes=1)
    table = newsingest("--config", config, "status").stdout
    cells = dict(zip(table_header(table), table_row(table, SOURCE), strict=True))
    assert cells["health"] == "failing x2"
