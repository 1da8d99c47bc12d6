"""Storage test fixtures: an empty database of each kind, an engine, a migrated store.

The database fixtures themselves (``database_url`` and friends) come from
``tests/storage/databases.py`` through the top-level ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from storage.database import create_engine_for
from storage.migrate import ensure_schema
from storage.settings import DatabaseSettings
from storage.store import Store
from tests.storage.factories import SOURCES

__all__ = ["engine", "store"]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty, never-migrated database."""
    engine = create_engine_for(DatabaseSettings(url=database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Store:
    """A store on a database migrated to head, with the ``alpha`` and ``beta`` sources."""
    ensure_schema(engine, auto_migrate=True)
    store = Store(engine)
    store.sync_sources(SOURCES)
    return store
