"""What the serve tests share: a small newsroom stored through the real write path, and
the real app served by uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from newsingest.config import Settings, build_settings
from newsingest.copies import CopyStage
from newsingest.serve.app import create_app
from newsingest.serve.server import listen, server_for
from newsingest.stories import story_stage
from pipeline.records import Article
from pipeline.stories import StorySettings
from storage.copies import CopyIndex
from storage.health import HealthStore
from storage.records import RunCounts, SourceRecord
from storage.store import open_store
from tests.storage.factories import article, failure
from tests.stories_cases import CHILE, CHILE_AT, FOOTBALL, JAPAN, JAPAN_AT

# Three sources, one of each health: ok, failing (two polls failed), dead (410 Gone).
SOURCES = {
    "northwind": "http://127.0.0.1:9/northwind/feed.xml",
    "harbour": "http://127.0.0.1:9/harbour/feed.xml",
    "ledger": "http://127.0.0.1:9/ledger/feed.xml",
}
FILLERS = 20  # unrelated articles, one story each, so lists take several pages
MARKUP_TITLE = "Cup final <script>alert('x')</script> & penalties"
FOOTBALL_AT = datetime(2024, 4, 20, 21, 0, tzinfo=UTC)
FILLER_AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def settings_for(database_url: str, **serve: Any) -> Settings:
    """Settings with the newsroom's sources, this database and these [serve] keys."""
    return build_settings(
        {
            "database": {"url": database_url},
            "sources": [{"id": s, "kind": "feed", "url": u} for s, u in SOURCES.items()],
            "serve": serve,
        }
    )


def newsroom_articles() -> list[Article]:
    """Both earthquakes' reports, a cup final and a syndicated copy of it, and fillers."""
    chile = [
        _article(f"chile-{i}", source, report, CHILE_AT + timedelta(hours=i))
        for i, (source, report) in enumerate(zip(SOURCES, CHILE, strict=True))
    ]
    japan = [
        _article(f"japan-{i}", source, report, JAPAN_AT + timedelta(hours=i))
        for i, (source, report) in enumerate(zip(SOURCES, JAPAN, strict=False))
    ]
    football = _article("cup-final", "northwind", FOOTBALL, FOOTBALL_AT)
    # The same wire text under another publisher's headline: a copy of the same story.
    copy = dataclasses.replace(
        _article("cup-final-copy", "ledger", FOOTBALL, FOOTBALL_AT + timedelta(hours=2)),
        title=MARKUP_TITLE,
        language="es",
    )
    rng = random.Random(7)
    fillers = [
        _article(
            f"filler-{i}",
            list(SOURCES)[i % 3],
            (f"Filler {i}", " ".join(f"w{rng.randrange(10**6)}" for _ in range(80))),
            FILLER_AT + timedelta(hours=i),
        )
        for i in range(FILLERS)
    ]
    return [*chile, *japan, football, copy, *fillers]


def fill_newsroom(database_url: str) -> list[Article]:
    """Store the newsroom as ingestion would: sources, polls, runs, articles, clusters."""
    settings = settings_for(database_url)
    store = open_store(settings.database)
    try:
        store.sync_sources(SourceRecord(id=s, kind="feed", url=u) for s, u in SOURCES.items())
        articles = newsroom_articles()
        store.save_batch(
            [
                *articles,
                failure("http://harbour.test/gone", "http_404", source="harbour", status=404),
            ]
        )
        CopyStage(CopyIndex(store.engine)).after_save(articles)
        story_stage(StorySettings(), store.engine).after_save(articles)
        _record_polls_and_runs(store, settings)
    finally:
        store.dispose()
    return articles


def _record_polls_and_runs(store: Any, settings: Settings) -> None:
    health = HealthStore(store.engine)
    at = FILLER_AT + timedelta(days=1)
    for source, outcomes in {
        "northwind": [None],
        "harbour": ["http_503", "http_503"],
        "ledger": ["http_410"],
    }.items():
        for i, reason in enumerate(outcomes):
            when = at + timedelta(minutes=10 * i)
            run = store.start_run(source, when)
            status = 503 if reason == "http_503" else 410 if reason else 200
            store.record_poll(source, at=when, status=status, error=reason)
            health.record_poll_outcome(
                source,
                url=SOURCES[source],
                reason=reason,
                at=when,
                dead_after_not_found=settings.scheduler.dead_after_not_found,
            )
            counts = (
                RunCounts(found=9, new=3, fetched=3, stored=3) if reason is None else RunCounts()
            )
            store.finish_run(
                run,
                counts,
                at=when + timedelta(seconds=4),
                status="ok" if reason is None else "failed",
                error=reason and f"feed answered {status}",
            )


def _article(key: str, source: str, report: tuple[str, str], at: datetime) -> Article:
    title, text = report
    return article(
        f"http://{source}.test/{key}",
        text=text,
        source=source,
        title=title,
        at=at + timedelta(minutes=30),
        published_at=at,
    )


class RunningServer:
    """The real app under uvicorn on 127.0.0.1 (a free port), in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self._sock = listen("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = server_for(app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)``; yield its base URL, stop it afterwards."""
    server = RunningServer(create_app(settings))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
