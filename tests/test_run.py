"""``newsingest run`` (and ``python scheduler.py``) as a long-running process.

The process is started for real against a local feed, left to ingest, and stopped
the way an operator or a service manager stops it (SIGTERM, Ctrl-C); then the
database is opened to check what a clean stop must leave behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.records import RunCounts, SourceRecord
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from tests.test_cli import NEWSINGEST, article, cli_env, quick_config, rss, serve_feed, write_config
from tests.webserver import LocalServer, Route, slow

REPO = Path(__file__).resolve().parents[1]
TITLES = ["Ferry terminal opens", "Quay becomes a market", "Night buses return", "Pier repaired"]
SOURCE = "harbour"


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll ``condition`` every 0.1 s until it is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")
        time.sleep(0.1)


@contextmanager
def running(
    args: list[str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` in its own process group with stderr to ``log``; kill what is left after."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=cli_env(),
            cwd=cwd,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            # The job and whatever it started (extraction workers, the fetcher).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def logged(log: Path, pattern: str) -> bool:
    return re.search(pattern, log.read_text(errors="replace"), re.MULTILINE) is not None


STORED_ALL = (
    rf"run source={SOURCE} status=ok found={len(TITLES)} new={len(TITLES)} .*stored={len(TITLES)} "
)
SLOW_TITLE = "Late story"


def publish_slow_story(site: LocalServer) -> str:
    """Add a story to the feed whose page takes 1.5 s to download; return its URL."""
    url = site.url("/news/late.html")
    site.add("/news/late.html", slow(1.5, article(SLOW_TITLE)))
    items = [(title, site.url(f"/news/{i}.html")) for i, title in enumerate(TITLES)]
    site.add(
        "/feed.xml",
        Route(
            body=rss([*items, (SLOW_TITLE, url)]), headers={"Content-Type": "application/rss+xml"}
        ),
    )
    return url


def stored_urls(site: LocalServer, *extra: str) -> list[str]:
    return sorted([*(site.url(f"/news/{i}.html") for i in range(len(TITLES))), *extra])


def assert_clean_stop(
    proc: subprocess.Popen[bytes], log: Path, database_url: str, expected_urls: list[str]
) -> None:
    """Exit status 0 within 30 s, "stopped cleanly" logged, every article stored once."""
    try:
        status = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(
            "the process did not stop within 30 s of the signal\n" + log.read_text()[-3000:]
        )
    text = log.read_text(errors="replace")
    assert status == 0, text[-3000:]
    assert "stopped cleanly" in text
    assert "Traceback" not in text, text[-3000:]
    # No extraction worker or fetcher process outlives the job.
    wait_for(lambda: group_is_gone(proc.pid), 5, "the job's child processes to exit", log)

    store = open_store(DatabaseSettings(url=database_url, auto_migrate=False))
    try:
        docs = list(store.documents(SOURCE))
        assert sorted(d.url for d in docs) == expected_urls, text[-3000:]
        assert all(d.status == "ok" and d.attempts == 1 for d in docs)
        runs = store.runs(SOURCE, limit=1000)
        assert runs and [r for r in runs if r.status == "running"] == []
        assert sum(r.counts.stored for r in runs) == len(docs)
    finally:
        store.dispose()


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def run_config(tmp_path: Path, database_url: str, feed_url: str, interval: str) -> Path:
    source = {"id": SOURCE, "kind": "feed", "url": feed_url, "interval": interval}
    return write_config(tmp_path / "newsingest.toml", quick_config(database_url, [source]))


def stop_in_the_middle_of_a_fetch(
    tmp_path: Path, database_url: str, site: LocalServer, send: Callable[[int], None]
) -> Path:
    """Run, let it store the feed, publish a slow story, ``send`` a signal mid-download.

    The story in flight belongs to the current batch: it must be stored, not lost.
    """
    config = run_config(tmp_path, database_url, serve_feed(site, TITLES), "1s")
    log = tmp_path / "run.log"
    with running([str(NEWSINGEST), "--config", str(config), "run"], log) as proc:
        wait_for(lambda: logged(log, STORED_ALL), 30, "the articles to be stored", log)
        # Found by a later poll: "1s" keeps polling the feed while the process lives.
        late_url = publish_slow_story(site)
        wait_for(lambda: site.hits("/news/late.html") >= 1, 15, "the late story's download", log)
        send(proc.pid)
        assert_clean_stop(proc, log, database_url, stored_urls(site, late_url))
    assert all(site.hits(f"/news/{i}.html") == 1 for i in range(len(TITLES)))
    assert site.hits("/news/late.html") == 1
    return log


def test_sigterm_finishes_the_current_batch_and_exits_0(
    tmp_path: Path, database_url: str, site: LocalServer
) -> None:
    log = stop_in_the_middle_of_a_fetch(
        tmp_path, database_url, site, lambda pid: os.kill(pid, signal.SIGTERM)
    )
    assert logged(log, r"received SIGTERM: finishing the current batch")
    assert logged(log, rf"run source={SOURCE} status=interrupted .*stored=1 ")


def test_sigint_behaves_like_sigterm(tmp_path: Path, sqlite_url: str, site: LocalServer) -> None:
    log = stop_in_the_middle_of_a_fetch(
        tmp_path, sqlite_url, site, lambda pid: os.kill(pid, signal.SIGINT)
    )
    assert logged(log, r"received SIGINT: finishing the current batch")


def test_ctrl_c_in_a_terminal_finishes_the_current_batch(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    # A terminal sends SIGINT to the foreground process group, children included.
    stop_in_the_middle_of_a_fetch(
        tmp_path, sqlite_url, site, lambda pid: os.killpg(pid, signal.SIGINT)
    )


def test_python_scheduler_py_is_the_same_main_job(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    config = run_config(tmp_path, sqlite_url, serve_feed(site, TITLES), "1s")
    log = tmp_path / "run.log"
    with running([sys.executable, "scheduler.py", "--config", str(config)], log, cwd=REPO) as proc:
        wait_for(lambda: logged(log, STORED_ALL), 30, "the articles to be stored", log)
        proc.send_signal(signal.SIGTERM)
        assert_clean_stop(proc, log, sqlite_url, stored_urls(site))


def seed_last_run(database_url: str, feed_url: str, ago: timedelta) -> None:
    """A database whose source last ran ``ago`` (a finished, successful run)."""
    store: Store = open_store(DatabaseSettings(url=database_url))
    try:
        store.sync_sources([SourceRecord(id=SOURCE, kind="feed", url=feed_url)])
        started = datetime.now(UTC) - ago
        run_id = store.start_run(SOURCE, at=started)
        store.finish_run(run_id, RunCounts(), at=started + timedelta(seconds=5))
    finally:
        store.dispose()


def count_runs(database_url: str) -> int:
    store = open_store(DatabaseSettings(url=database_url, auto_migrate=False))
    try:
        return len(store.runs(SOURCE, limit=100))
    finally:
        store.dispose()


def test_a_run_missed_while_down_runs_once_at_start_up(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    feed_url = serve_feed(site, TITLES)
    seed_last_run(sqlite_url, feed_url, ago=timedelta(hours=2))
    config = run_config(tmp_path, sqlite_url, feed_url, "1h")
    log = tmp_path / "run.log"
    with running([str(NEWSINGEST), "--config", str(config), "run"], log) as proc:
        wait_for(lambda: site.hits("/feed.xml") >= 1, 15, "the missed run to poll the feed", log)
        wait_for(lambda: logged(log, STORED_ALL), 30, "the missed run to finish", log)
        assert count_runs(sqlite_url) == 2
        time.sleep(1.5)
        assert site.hits("/feed.xml") == 1  # once, not once per missed slot
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_run_not_yet_due_waits_for_its_slot(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    feed_url = serve_feed(site, TITLES)
    seed_last_run(sqlite_url, feed_url, ago=timedelta(minutes=1))
    config = run_config(tmp_path, sqlite_url, feed_url, "1h")
    log = tmp_path / "run.log"
    with running([str(NEWSINGEST), "--config", str(config), "run"], log) as proc:
        wait_for(
            lambda: logged(log, rf"scheduled source {SOURCE} "), 15, "the job to be scheduled", log
        )
        first = re.search(rf"scheduled source {SOURCE} \(feed\), first run (\S+)", log.read_text())
        assert first is not None
        due = datetime.fromisoformat(first.group(1))
        assert timedelta(minutes=58) < due - datetime.now(UTC) < timedelta(minutes=60)
        time.sleep(2)
        assert site.hits("/feed.xml") == 0
        assert count_runs(sqlite_url) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
