"""Sources, poll state, runs and summaries, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from storage.errors import StorageError, UnknownSourceError
from storage.records import RunCounts, SourceRecord
from storage.store import Store
from tests.storage.factories import T0, article, failure


def test_sync_sources_upserts(store: Store) -> None:
    store.sync_sources([
        SourceRecord(id="alpha", kind="sitemap", url=None, enabled=False),
        SourceRecord(id="gamma", kind="files", url=None),
    ])
    kinds = {s.source: s.kind for s in store.source_summaries()}
    assert kinds == {"alpha": "sitemap", "beta": "sitemap", "gamma": "files"}


def test_fetch_state_defaults(store: Store) -> None:
    state = store.fetch_state("alpha")
    assert state.source == "alpha"
    assert state.etag is None and state.consecutive_failures == 0


def test_record_poll_validators_and_failures(store: Store) -> None:
    store.record_poll("alpha", at=T0, status=200, etag='"v1"', last_modified="Wed, 01 May")
    state = store.fetch_state("alpha")
    assert (state.etag, state.last_modified, state.last_status) == ('"v1"', "Wed, 01 May", 200)
    assert state.last_success_at == state.last_attempt_at == T0

    # 304 without validators: keep the ones we have.
    t1 = T0 + timedelta(minutes=10)
    store.record_poll("alpha", at=t1, status=304)
    state = store.fetch_state("alpha")
    assert (state.etag, state.last_modified, state.last_status) == ('"v1"', "Wed, 01 May", 304)
    assert state.last_success_at == t1

    # 304 with a fresh ETag: take it.
    store.record_poll("alpha", at=t1, status=304, etag='"v2"')
    assert store.fetch_state("alpha").etag == '"v2"'

    # Failures keep the validators and count up.
    t2 = T0 + timedelta(minutes=20)
    store.record_poll("alpha", at=t2, status=503, error="HTTP 503")
    store.record_poll("alpha", at=t2, status=None, error="timed out")
    state = store.fetch_state("alpha")
    assert state.consecutive_failures == 2
    assert state.last_error == "timed out" and state.last_status is None
    assert state.etag == '"v2"' and state.last_modified == "Wed, 01 May"
    assert state.last_success_at == t1 and state.last_attempt_at == t2

    # A success resets the count; a 200 stores exactly what the server sent.
    store.record_poll("alpha", at=t2, status=200, etag='"v3"')
    state = store.fetch_state("alpha")
    assert state.consecutive_failures == 0 and state.last_error is None
    assert (state.etag, state.last_modified) == ('"v3"', None)


def test_first_poll_failing(store: Store) -> None:
    store.record_poll("beta", at=T0, status=None, error="connection refused")
    state = store.fetch_state("beta")
    assert state.consecutive_failures == 1 and state.last_success_at is None


def test_record_poll_unknown_source(store: Store) -> None:
    with pytest.raises(UnknownSourceError):
        store.record_poll("nowhere", at=T0, status=200)


def test_run_lifecycle(store: Store) -> None:
    first = store.start_run("alpha", T0)
    running = store.last_run("alpha")
    assert running is not None
    assert (running.id, running.status, running.finished_at) == (first, "running", None)

    counts = RunCounts(found=10, new=4, fetched=3, stored=2, updated=1, unchanged=0,
                       failed=Counter({"http_404": 1, "timeout": 2}))
    store.finish_run(first, counts, at=T0 + timedelta(minutes=1))
    second = store.start_run("alpha", T0 + timedelta(hours=1))
    store.finish_run(second, RunCounts(), at=T0 + timedelta(hours=1, minutes=1),
                     status="failed", error="feed unreachable")
    store.start_run("beta", T0 + timedelta(minutes=30))

    runs = store.runs("alpha")
    assert [r.id for r in runs] == [second, first]
    done = runs[1]
    assert done.status == "ok" and done.finished_at == T0 + timedelta(minutes=1)
    assert done.counts.found == 10 and done.counts.stored == 2
    assert done.counts.failed == Counter({"http_404": 1, "timeout": 2})
    assert done.counts.failed_total == 3
    assert runs[0].status == "failed" and runs[0].error == "feed unreachable"
    assert [r.source for r in store.runs()] == ["alpha", "beta", "alpha"]
    assert len(store.runs(limit=2)) == 2
    assert store.last_run("gamma") is None


def test_finish_unknown_run(store: Store) -> None:
    with pytest.raises(StorageError, match="No run with id 4242"):
        store.finish_run(4242, RunCounts(), at=T0)


def test_mark_interrupted_runs(store: Store) -> None:
    done = store.start_run("alpha", T0)
    store.finish_run(done, RunCounts(), at=T0)
    left = [store.start_run("alpha", T0), store.start_run("beta", T0)]
    at = T0 + timedelta(days=1)
    assert store.mark_interrupted_runs(at=at) == 2
    by_id = {r.id: r for r in store.runs()}
    assert all(by_id[i].status == "interrupted" and by_id[i].finished_at == at for i in left)
    assert by_id[done].status == "ok"
    assert store.mark_interrupted_runs() == 0


def test_source_summaries(store: Store) -> None:
    store.save_batch([
        article("http://127.0.0.1/1"),
        article("http://127.0.0.1/2"),
        failure("http://127.0.0.1/3", "http_404", status=404),
        failure("http://127.0.0.1/4", "http_404", status=404),
        failure("http://127.0.0.1/5", "timeout", status=None),
        failure("http://127.0.0.1/6", "timeout", source="beta", status=None),
    ])
    store.record_poll("alpha", at=T0, status=200, etag="e")
    run_old = store.start_run("alpha", T0)
    run_new = store.start_run("alpha", T0 + timedelta(hours=1))

    summaries = {s.source: s for s in store.source_summaries()}
    alpha, beta = summaries["alpha"], summaries["beta"]
    assert (alpha.kind, alpha.documents) == ("feed", 2)
    assert alpha.failures == {"http_404": 2, "timeout": 1}
    assert alpha.state.etag == "e"
    assert alpha.last_run is not None and alpha.last_run.id == run_new != run_old
    assert (beta.documents, beta.failures, beta.last_run) == (0, {"timeout": 1}, None)
    assert beta.state.source == "beta" and beta.state.etag is None
