"""Database fixtures: every test that takes ``database_url`` runs on SQLite and PostgreSQL.

SQLite gets a fresh file per test. PostgreSQL (``NEWSINGEST_TEST_POSTGRES_URL``) gets a
freshly created schema per test, selected through the connection's search_path, and
dropped afterwards; the schema is built by the real Alembic migrations, so they are
what is tested. Without the variable the PostgreSQL cases are skipped, unless
``NEWSINGEST_REQUIRE_POSTGRES=1`` (as in CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

PG_URL_VAR = "NEWSINGEST_TEST_POSTGRES_URL"
REQUIRE_PG_VAR = "NEWSINGEST_REQUIRE_POSTGRES"


def postgres_base_url() -> str:
    """The PostgreSQL server to test against; skips (or fails, if required) without one."""
    url = os.environ.get(PG_URL_VAR)
    if url:
        return url
    if os.environ.get(REQUIRE_PG_VAR) == "1":
        pytest.fail(f"{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set", pytrace=False)
    pytest.skip(f"{PG_URL_VAR} is not set")


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a new, empty PostgreSQL schema."""
    base = postgres_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a SQLite file that does not exist yet (nor does its directory)."""
    return f"sqlite:///{tmp_path / 'data' / 'news.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_schema_url"
    return str(request.getfixturevalue(fixture))



__all__ = ["database_url", "postgres_base_url", "postgres_schema_url", "sqlite_url"]
