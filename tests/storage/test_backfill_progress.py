"""Backfill progress in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage.backfill import BackfillStore
from storage.store import Store
from tests.storage.factories import T0


def test_progress_is_recorded_and_read_back(store: Store) -> None:
    progress = BackfillStore(store.engine)
    assert progress.progress("/data/list.txt") is None

    progress.record(
        "/data/list.txt", source_id="alpha", path="list.txt", lines_done=2000, bad_lines=3, at=T0
    )
    later = T0 + timedelta(minutes=5)
    progress.record(
        "/data/list.txt", source_id="alpha", path="list.txt", lines_done=4000, bad_lines=5, at=later
    )
    done = progress.progress("/data/list.txt")
    assert done is not None
    assert (done.source, done.path, done.lines_done, done.bad_lines) == (
        "alpha",
        "list.txt",
        4000,
        5,
    )
    assert done.updated_at == later and done.updated_at.tzinfo is not None
    assert done.finished_at is None


def test_finished_is_set_and_cleared_when_the_list_grows(store: Store) -> None:
    progress = BackfillStore(store.engine)
    progress.record(
        "k", source_id="alpha", path="l", lines_done=10, bad_lines=0, finished=True, at=T0
    )
    first = progress.progress("k")
    assert first is not None and first.finished_at == T0

    progress.record("k", source_id="alpha", path="l", lines_done=15, bad_lines=0)
    grown = progress.progress("k")
    assert grown is not None and grown.finished_at is None and grown.lines_done == 15


def test_lists_are_kept_apart_and_forgotten_one_by_one(store: Store) -> None:
    progress = BackfillStore(store.engine)
    progress.record("a", source_id="alpha", path="a", lines_done=1, bad_lines=0, at=T0)
    progress.record(
        "b", source_id="beta", path="b", lines_done=2, bad_lines=1, at=T0 + timedelta(seconds=1)
    )
    assert [p.key for p in progress.all_progress()] == ["b", "a"]

    assert progress.forget("a") is True
    assert progress.forget("a") is False
    assert progress.progress("a") is None
    remaining = progress.progress("b")
    assert remaining is not None and remaining.lines_done == 2
