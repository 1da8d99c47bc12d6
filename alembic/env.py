"""Alembic environment for the newsingest schema.

Two ways in:

* From code (``storage.migrate``) and tests: a live SQLAlchemy ``Connection`` is passed
  in ``config.attributes["connection"]``; migrations run on it, inside the caller's
  transaction, and logging is left alone (only the entry point configures handlers).
* From the ``alembic`` command line: the URL comes from ``-x url=...``, else the
  ``NEWSINGEST_DATABASE__URL`` environment variable, else ``sqlalchemy.url`` in
  alembic.ini; the engine is built by ``storage.database.create_engine_for`` so SQLite
  gets the same pragmas and real transactions as the application.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from alembic import context
from storage.database import create_engine_for, write_engine
from storage.models import UTCDateTime
from storage.schema import metadata
from storage.settings import DatabaseSettings

config = context.config
target_metadata = metadata


def _database_url() -> str:
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    if x_url:
        return x_url
    env_url = os.environ.get("NEWSINGEST_DATABASE__URL")
    if env_url:
        return env_url
    ini_url = config.get_main_option("sqlalchemy.url")
    if not ini_url:
        raise SystemExit("No database URL: pass -x url=... or set NEWSINGEST_DATABASE__URL.")
    return ini_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our UTC type as the plain column type it stores, so revisions need no
    import of ``storage`` (a migration must not change when the models do)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    is_sqlite = dialect_name == "sqlite"
    return {
        "target_metadata": target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        "render_as_batch": is_sqlite,
        # storage.database makes SQLite DDL transactional (we emit BEGIN ourselves),
        # so a failed upgrade rolls back instead of leaving half a schema behind.
        "transactional_ddl": True if is_sqlite else None,
        "compare_type": True,
        "render_item": _render_item,
    }


def _run_on(connection: Connection) -> None:
    options = {k: v for k, v in _configure_options(connection.dialect.name).items()
               if v is not None}
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the migration SQL to stdout (``alembic upgrade head --sql``)."""
    url = _database_url()
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    options = {k: v for k, v in _configure_options(dialect_name).items() if v is not None}
    context.configure(url=url, literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against a live database."""
    given = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
        return

    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    engine = write_engine(create_engine_for(DatabaseSettings(url=_database_url())))
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
