"""Engines: SQLite set-up, time zones, transactions, and errors a user can cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.database import create_engine_for
from storage.errors import DatabaseError
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from tests.storage.databases import postgres_base_url
from tests.storage.factories import SOURCES, article, failure


def test_sqlite_pragmas_are_on(sqlite_url: str) -> None:
    engine = create_engine_for(DatabaseSettings(url=sqlite_url))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "news.db"
    store = open_store(DatabaseSettings(url=f"sqlite:///{path}"))
    store.dispose()
    assert path.is_file()


def test_sqlite_foreign_keys_are_enforced(sqlite_url: str) -> None:
    store = open_store(DatabaseSettings(url=sqlite_url))
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), store.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO fetch_state (source_id, consecutive_failures) VALUES ('x', 0)"
            ))
    finally:
        store.dispose()


def test_datetimes_come_back_tz_aware_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 1, 14, 30, tzinfo=paris)
    store.save_batch([article("http://127.0.0.1/a", at=local, published_at=local)])
    doc = store.document("http://127.0.0.1/a")
    assert doc is not None
    for value in (doc.published_at, doc.fetched_at, doc.first_seen_at, doc.updated_at):
        assert value is not None
        assert value.tzinfo is UTC
        assert value == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(Exception, match="naive datetime"):
        store.save_batch([article("http://127.0.0.1/a", at=naive)])


def test_batch_failing_midway_writes_nothing(store: Store) -> None:
    good = [article(f"http://127.0.0.1/{i}") for i in range(5)]
    # The articles are written before the failures; the failure's naive time then fails.
    bad = failure("http://127.0.0.1/broken", at=datetime(2024, 5, 1, 12, 0))
    with pytest.raises(Exception, match="naive datetime"):
        store.save_batch([*good, bad])
    assert store.count_documents(status=None) == 0


def test_open_store_runs_migrations(database_url: str) -> None:
    store = open_store(DatabaseSettings(url=database_url))
    try:
        store.sync_sources(SOURCES)
        assert store.count_documents() == 0
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "url",
    ["not a url", "nosuchdb://user@host/db", "sqlite:////proc/definitely/not/here.db"],
)
def test_bad_url_is_a_database_error(url: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        create_engine_for(DatabaseSettings(url=url))
    message = str(caught.value)
    assert url in message
    assert "check database.url" in message
    assert "\n" not in message


@pytest.mark.postgres
def test_unreachable_postgres_is_a_database_error() -> None:
    postgres_base_url()  # the test is about PostgreSQL, so it follows the same rules
    url = "postgresql+psycopg://newsingest:s3cret@127.0.0.1:1/corpus"
    with pytest.raises(DatabaseError) as caught:
        open_store(DatabaseSettings(url=url))
    message = str(caught.value)
    assert "postgresql+psycopg://newsingest:***@127.0.0.1:1/corpus" in message
    assert "s3cret" not in message
    assert "\n" not in message


@pytest.mark.postgres
def test_missing_postgres_database_is_a_database_error() -> None:
    base = postgres_base_url()
    url = base.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(DatabaseError, match="no_such_database_here"):
        create_engine_for(DatabaseSettings(url=url))
