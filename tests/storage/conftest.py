"""Storage test fixtures: an empty database of each kind, an engine, a migrated store.

Other test directories can reuse the database fixtures with
``from tests.storage.databases import database_url, postgres_schema_url, sqlite_url``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from storage.database import create_engine_for
from storage.migrate import ensure_schema
from storage.settings import DatabaseSettings
from storage.store import Store
from tests.storage.databases import database_url, postgres_schema_url, sqlite_url
from tests.storage.factories import SOURCES

__all__ = ["database_url", "engine", "postgres_schema_url", "sqlite_url", "store"]


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
