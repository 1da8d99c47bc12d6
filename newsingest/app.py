"""Builds the long-lived parts (store, extraction pool, ingestor) from the settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from newsingest.cleaning import learned_boilerplate
from newsingest.config import Settings
from newsingest.copies import copy_stage
from newsingest.ingest import BatchStage, Ingestor
from newsingest.stories import story_stage
from pipeline.workers import ExtractionPool
from storage.records import SourceRecord
from storage.store import Store, open_store


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    store: Store
    pool: ExtractionPool
    ingestor: Ingestor


def batch_stages(settings: Settings, store: Store) -> list[BatchStage]:
    """The in-process stages around each batch write, in the order they run."""
    # First: every later stage may ask for the copy cluster of the batch's documents;
    # and documents cleaned again by the learned boilerplate are fingerprinted again.
    copies = copy_stage(settings.copies, store)
    stages: list[BatchStage] = [
        copies,
        learned_boilerplate(settings, store, on_rewritten=copies.refresh),
    ]
    if settings.stories.enabled:  # last: it reads the copy clusters of the batch
        stages.append(story_stage(settings.stories, store.engine))
    return stages


@contextmanager
def open_app(
    settings: Settings,
    stop: threading.Event | None = None,
    *,
    stages: bool = True,
    recover_runs: bool = False,
) -> Iterator[App]:
    """Open the database (migrating it if allowed), start the workers, close both after.

    ``stages=False`` leaves out the batch stages (learned boilerplate, copies,
    stories): the bare fetch-extract-store path, which the ingest benchmark measures.
    ``recover_runs`` marks runs left 'running' as interrupted: only the scheduler's
    leader may, since a one-off crawl, import or backfill started beside a running
    scheduler would otherwise close the scheduler's live runs.
    """
    store = open_store(settings.database)
    try:
        if recover_runs:
            store.mark_interrupted_runs()
        store.sync_sources(
            SourceRecord(
                id=s.id,
                kind=s.kind,
                url=s.url or (str(s.path) if s.path else None),
                enabled=s.enabled,
            )
            for s in settings.sources
        )
        with ExtractionPool(settings.pipeline) as pool:
            yield App(
                settings,
                store,
                pool,
                Ingestor(
                    settings, store, pool, stop, batch_stages(settings, store) if stages else []
                ),
            )
    finally:
        store.dispose()
