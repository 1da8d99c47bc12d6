"""Several writers on one database at once, as worker processes would be."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from pipeline.records import Article, Failure
from storage.database import create_engine_for
from storage.settings import DatabaseSettings
from storage.store import Store
from tests.storage.factories import T0, article, failure

WRITERS = 4
ROUNDS = 15
URLS = [f"http://127.0.0.1/shared/{i}" for i in range(40)]


def write_rounds(url: str, seed: int) -> int:
    """Save overlapping batches through its own engine (its own connections)."""
    rng = random.Random(seed)
    engine = create_engine_for(DatabaseSettings(url=url))
    store = Store(engine)
    saved = 0
    try:
        for n in range(ROUNDS):
            batch: list[Article | Failure] = []
            for u in rng.sample(URLS, 15):
                at = T0 + timedelta(minutes=n)
                if rng.random() < 0.2:
                    batch.append(failure(u, "timeout", at=at))
                else:
                    batch.append(article(u, text=f"version {rng.randint(0, 2)}", at=at))
            result = store.save_batch(batch)
            saved += result.stored
    finally:
        engine.dispose()
    return saved


def test_concurrent_writers_neither_fail_nor_duplicate(
    store: Store, engine: Engine, database_url: str
) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        stored = sum(pool.map(write_rounds, [database_url] * WRITERS, range(WRITERS)))
    total = store.count_documents(status=None)
    assert total <= len(URLS)
    # Every URL that ended ok was counted as stored exactly once, by some writer
    # (a concurrent writer may have stored it between our look and our write).
    assert store.count_documents() <= stored
