"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The database fixtures (SQLite file, PostgreSQL schema) serve every test directory.
from tests.storage.databases import database_url, postgres_schema_url, sqlite_url

__all__ = ["database_url", "postgres_schema_url", "shared_dir", "sqlite_url"]

REPO = Path(__file__).resolve().parents[1]
# The project's shared data (seeds, benchmarks) sits beside the checkout.
SHARED = Path(os.environ.get("NEWSINGEST_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
