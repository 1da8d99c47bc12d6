"""One scheduler per database: two real ``newsingest run`` processes, one leads.

The second waits as a standby, polls nothing, and takes over within a bounded time
when the leader is killed with SIGKILL (no chance to release anything): on
PostgreSQL the server drops the dead session's advisory lock, on SQLite the lease
expires.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.settings import DatabaseSettings
from storage.store import open_store
from tests.test_cli import NEWSINGEST, quick_config, serve_feed, write_config
from tests.test_run import TITLES, logged, running, wait_for
from tests.webserver import LocalServer

SOURCE = "harbour"
LEASE_SECONDS = 2
LEADING = r"leading: this process schedules"
STANDING_BY = r"standing by: another newsingest run leads on this database"


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def config_for(tmp_path: Path, database_url: str, feed_url: str) -> Path:
    config = quick_config(
        database_url, [{"id": SOURCE, "kind": "feed", "url": feed_url, "interval": "1s"}]
    )
    config["scheduler"] = {"leader_lease": f"{LEASE_SECONDS}s"}
    return write_config(tmp_path / "newsingest.toml", config)


def runs_by_holder_log(log: Path) -> int:
    return log.read_text(errors="replace").count(f"run source={SOURCE} ")


def test_a_standby_takes_over_when_the_leader_is_killed(
    tmp_path: Path, database_url: str, site: LocalServer
) -> None:
    config = config_for(tmp_path, database_url, serve_feed(site, TITLES))
    args = [str(NEWSINGEST), "--config", str(config), "run"]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with running(args, first_log) as first:
        wait_for(lambda: logged(first_log, LEADING), 20, "the first process to lead", first_log)
        wait_for(lambda: runs_by_holder_log(first_log) >= 1, 30, "a first run", first_log)
        with running(args, second_log) as second:
            wait_for(
                lambda: logged(second_log, STANDING_BY), 20, "the second to stand by", second_log
            )
            time.sleep(2.5)  # two slots of the 1 s cadence: the standby runs nothing
            assert runs_by_holder_log(second_log) == 0
            assert not logged(second_log, LEADING)
            assert runs_by_holder_log(first_log) >= 2  # the leader goes on meanwhile

            os.killpg(first.pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_for(lambda: logged(second_log, LEADING), 20, "the take-over", second_log)
            took = time.monotonic() - killed
            # Bounded: the lease plus a poll on SQLite, about one poll on PostgreSQL.
            assert took < LEASE_SECONDS + 3, took
            wait_for(lambda: runs_by_holder_log(second_log) >= 1, 30, "the new leader's run")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, second_log.read_text()[-3000:]
    text = second_log.read_text()
    assert "Traceback" not in text and "stopped cleanly" in text

    store = open_store(DatabaseSettings(url=database_url, auto_migrate=False))
    try:
        docs = list(store.documents(SOURCE))
        assert len(docs) == len(TITLES) and all(d.attempts == 1 for d in docs)
    finally:
        store.dispose()


def test_a_standby_stops_at_once_on_sigterm(
    tmp_path: Path, sqlite_url: str, site: LocalServer
) -> None:
    config = config_for(tmp_path, sqlite_url, serve_feed(site, TITLES))
    args = [str(NEWSINGEST), "--config", str(config), "run"]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with running(args, first_log) as first, running(args, second_log) as second:
        wait_for(
            lambda: (
                (logged(first_log, LEADING) and logged(second_log, STANDING_BY))
                or (logged(second_log, LEADING) and logged(first_log, STANDING_BY))
            ),
            30,
            "one leader and one standby",
            first_log,
        )
        standby = second if logged(second_log, STANDING_BY) else first
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=10) == 0
