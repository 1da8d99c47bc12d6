"""Bring a database's schema to this code's Alembic head, or refuse to use it.

The Alembic configuration is built here in code, pointing at the ``alembic/`` directory
next to this package, so migrating never depends on the current directory or on
alembic.ini (which exists for running Alembic by hand).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text

from alembic import command
from storage.database import create_engine_for, translate_errors, write_engine
from storage.errors import SchemaOutOfDateError, SchemaTooNewError
from storage.settings import DatabaseSettings

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "alembic"

# An arbitrary constant key for pg_advisory_xact_lock: workers starting together on one
# PostgreSQL database take turns to migrate instead of racing to create the same tables.
_PG_MIGRATION_LOCK = 0x6E657773  # "news"


def alembic_config(script_location: Path = SCRIPT_LOCATION) -> Config:
    """Return an Alembic ``Config`` for our migrations (no ini file involved)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("path_separator", "os")
    return config


def head_revision(*, script_location: Path = SCRIPT_LOCATION) -> str:
    """Return the newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config(script_location)).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships a revision
        raise RuntimeError(f"no Alembic revisions found in {script_location}")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's schema revision, or None for a database never migrated."""
    with translate_errors(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, *, script_location: Path = SCRIPT_LOCATION) -> None:
    """Upgrade the database to head in one transaction (a no-op when already there)."""
    config = alembic_config(script_location)
    with translate_errors(engine), write_engine(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def downgrade(engine: Engine, revision: str, *, script_location: Path = SCRIPT_LOCATION) -> None:
    """Downgrade the database to ``revision`` ("base" drops every table)."""
    config = alembic_config(script_location)
    with translate_errors(engine), write_engine(engine).begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def open_database(settings: DatabaseSettings) -> Engine:
    """Connect to the configured database and bring its schema to head, or refuse.

    Raises ``DatabaseError`` (unreachable database, bad URL), ``SchemaOutOfDateError``
    (behind, with auto_migrate off) or ``SchemaTooNewError``; the engine is disposed
    then.
    """
    engine = create_engine_for(settings)
    try:
        ensure_schema(engine, settings.auto_migrate)
    except BaseException:
        engine.dispose()
        raise
    return engine


def ensure_schema(
    engine: Engine, auto_migrate: bool, *, script_location: Path = SCRIPT_LOCATION
) -> None:
    """Make sure the database is at this code's head revision before it is used.

    An empty database is always created (nothing can be lost). A database behind head
    is upgraded when ``auto_migrate`` is on, else ``SchemaOutOfDateError``; a revision
    this code does not know (a newer newsingest migrated it) is ``SchemaTooNewError``.
    """
    script = ScriptDirectory.from_config(alembic_config(script_location))
    head = head_revision(script_location=script_location)
    current = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)

    if current == head:
        return
    if current is not None and not _is_known(script, current):
        raise SchemaTooNewError(url, current, head)
    if current is not None and not auto_migrate:
        raise SchemaOutOfDateError(url, current, head)

    logger.info("Migrating %s from %s to %s", url, current or "an empty database", head)
    upgrade(engine, script_location=script_location)


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
