"""Crash safety: ``newsingest run`` killed with SIGKILL mid-crawl, then started again.

The kill lands while slow pages are still downloading and earlier batches are
already committed. After a restart the crawl completes: every article is stored
exactly once, none is lost, and the killed run is marked interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.records import SourceRecord
from storage.settings import DatabaseSettings
from storage.store import open_store
from tests.test_cli import NEWSINGEST, article, cli_env, quick_config, rss, write_config
from tests.test_run import logged, running, wait_for
from tests.webserver import LocalServer, Route, slow

SOURCE = "harbour"
PAGES = 16


@pytest.fixture
def site() -> Iterator[LocalServer]:
    """A feed of ``PAGES`` articles, each taking 0.4 s to download."""
    with LocalServer() as server:
        items = []
        for i in range(PAGES):
            path = f"/news/{i}.html"
            server.add(path, slow(0.4, article(f"Story number {i}")))
            items.append((f"Story number {i}", server.url(path)))
        server.add(
            "/feed.xml", Route(body=rss(items), headers={"Content-Type": "application/rss+xml"})
        )
        yield server


def count_stored(database_url: str) -> int:
    store = open_store(DatabaseSettings(url=database_url, auto_migrate=False))
    try:
        return store.count_documents(SOURCE)
    finally:
        store.dispose()


def test_sigkill_mid_crawl_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, database_url: str, site: LocalServer
) -> None:
    config = quick_config(
        database_url,
        [{"id": SOURCE, "kind": "feed", "url": site.url("/feed.xml"), "interval": "1h"}],
    )
    config["pipeline"]["batch_size"] = 2
    config["crawl"]["concurrency_per_domain"] = 2
    path = write_config(tmp_path / "newsingest.toml", config)
    args = [str(NEWSINGEST), "--config", str(path), "run"]

    killed_log = tmp_path / "killed.log"
    with running(args, killed_log) as proc:
        wait_for(lambda: count_stored(database_url) >= 2, 60, "the first batches", killed_log)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    stored_before = count_stored(database_url)
    assert 2 <= stored_before < PAGES, "the kill did not land mid-crawl"
    assert not logged(killed_log, rf"run source={SOURCE} ")  # it never finished

    log = tmp_path / "restarted.log"
    with running(args, log) as proc:
        # An interrupted crawl is finished at start-up, not at the next hourly slot.
        wait_for(lambda: logged(log, rf"run source={SOURCE} status=ok "), 60, "the rest", log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0

    store = open_store(DatabaseSettings(url=database_url, auto_migrate=False))
    try:
        docs = list(store.documents(SOURCE))
        urls = [d.url for d in docs]
        assert sorted(urls) == sorted(site.url(f"/news/{i}.html") for i in range(PAGES))
        assert len(set(urls)) == len(urls) and all(d.attempts == 1 for d in docs)
        runs = store.runs(SOURCE)
        assert [r.status for r in runs] == ["ok", "interrupted"]
        assert runs[1].counts.stored == 0  # the killed run never wrote its counts...
        assert runs[0].counts.stored == PAGES - stored_before  # ...the restart did the rest
        assert runs[0].counts.new == PAGES - stored_before
    finally:
        store.dispose()
    # Stored pages were not fetched again; the one in flight at the kill may have been.
    refetched = sum(site.hits(f"/news/{i}.html") - 1 for i in range(PAGES))
    assert refetched <= PAGES - stored_before


def test_a_one_off_crawl_leaves_a_running_schedulers_runs_alone(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    """Only the scheduler's leader closes runs left 'running'; a crawl beside it must not."""
    config = quick_config(
        sqlite_url,
        [{"id": SOURCE, "kind": "feed", "url": site.url("/feed.xml"), "interval": "1h"}],
    )
    path = write_config(tmp_path / "newsingest.toml", config)
    store = open_store(DatabaseSettings(url=sqlite_url))
    try:
        store.sync_sources([SourceRecord(id="live", kind="feed", url=site.url("/feed.xml"))])
        live = store.start_run("live", datetime.now(UTC))  # the scheduler's run in progress
        result = subprocess.run(
            [str(NEWSINGEST), "--config", str(path), "crawl", SOURCE],
            capture_output=True,
            text=True,
            timeout=300,
            env=cli_env(),
        )
        assert result.returncode == 0, result.stderr
        assert [r.status for r in store.runs("live") if r.id == live] == ["running"]
    finally:
        store.dispose()
