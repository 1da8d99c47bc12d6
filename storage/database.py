"""Build the SQLAlchemy engine for the configured database (SQLite or PostgreSQL).

Third-party errors met while parsing the URL or connecting are converted here into
``storage.errors.DatabaseError``, so callers only ever see one sentence naming the
(password-masked) URL.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy.exc
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseError
from storage.settings import DatabaseSettings

logger = logging.getLogger(__name__)

# Execution option a caller sets (via ``write_engine``) to ask SQLite for BEGIN IMMEDIATE.
_BEGIN_IMMEDIATE = "newsingest_begin_immediate"

_SQLITE_PRAGMAS = (
    # Readers never block the writer and the writer never blocks readers.
    "PRAGMA journal_mode=WAL",
    # SQLite ignores REFERENCES unless asked, per connection.
    "PRAGMA foreign_keys=ON",
    # Wait for a competing writer (another process, the scheduler) instead of failing.
    "PRAGMA busy_timeout=30000",
    # Safe with WAL (a crash loses at most the last commits, never corrupts) and faster.
    "PRAGMA synchronous=NORMAL",
    # Checkpoint every 32 MB of log rather than 4: a page rewritten by several batches
    # in between is copied into the database once (the copy and story stages rewrite
    # the same index pages; 7% less CPU over 60,000 documents in dedup_scale.py).
    "PRAGMA wal_autocheckpoint=8000",
)

# Without a timeout a firewalled PostgreSQL host hangs the start-up for minutes.
_PG_CONNECT_TIMEOUT_S = 10


def create_engine_for(settings: DatabaseSettings) -> Engine:
    """Create an engine for ``settings.url`` and check that the database answers.

    Raises ``DatabaseError`` when the URL is malformed, names an unknown driver, or the
    database cannot be reached.
    """
    url = _parse_url(settings.url)
    kwargs: dict[str, Any] = {"echo": settings.echo}
    if url.get_backend_name() == "postgresql":
        # Connections idle in the pool die when the server restarts; test them first.
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in url.query:
            kwargs["connect_args"] = {"connect_timeout": _PG_CONNECT_TIMEOUT_S}
    elif url.get_backend_name() == "sqlite":
        _make_parent_directory(url, settings.url)

    try:
        engine = create_engine(url, **kwargs)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        raise DatabaseError(settings.url, f"unsupported database URL ({exc})") from exc

    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)

    with translate_errors(engine), engine.connect():
        pass
    logger.debug("Connected to %s", url.render_as_string(hide_password=True))
    return engine


def write_engine(engine: Engine) -> Engine:
    """Return a view of ``engine`` whose transactions take the write lock up front.

    On SQLite a transaction that reads and then writes may find another connection
    committed in between; SQLite then fails with "database is locked" at once, without
    honouring busy_timeout. ``BEGIN IMMEDIATE`` takes the write lock at the start
    instead, so concurrent writers queue politely. Other databases are unaffected.
    """
    return engine.execution_options(**{_BEGIN_IMMEDIATE: True})


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn "cannot reach / cannot open the database" errors into ``DatabaseError``.

    Integrity and programming errors pass through: they are bugs, and must fail loudly.
    """
    try:
        yield
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise DatabaseError(
            engine.url.render_as_string(hide_password=True), _first_line(exc)
        ) from exc


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was aborted
# as a whole and may simply be run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
T = TypeVar("T")


def retry_aborted(transaction: Callable[[], T], *, what: str, attempts: int = 5) -> T:
    """Run ``transaction`` again when PostgreSQL aborted it as a deadlock victim.

    Only for idempotent transactions: an aborted one committed nothing, so running it
    again is safe. Other errors, and the last attempt's, propagate.
    """
    for attempt in range(1, attempts + 1):
        try:
            return transaction()
        except sqlalchemy.exc.OperationalError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate not in _RETRYABLE_SQLSTATES or attempt == attempts:
                raise
            logger.debug("retrying %s after %s (attempt %d)", what, exc.orig, attempt)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _parse_url(raw: str) -> URL:
    try:
        return make_url(raw)
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        raise DatabaseError(raw, "this is not a database URL") from exc


def _make_parent_directory(url: URL, raw: str) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(raw, f"cannot create its directory ({exc.strerror})") from exc


def _configure_sqlite(engine: Engine) -> None:
    """Set the pragmas and take transaction control away from pysqlite."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
        # pysqlite's legacy mode emits BEGIN only before DML, so SELECTs and DDL run
        # outside any transaction and a batch is not atomic. Switch its handling off
        # and emit BEGIN ourselves (the recipe in SQLAlchemy's SQLite documentation).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_BEGIN_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def _first_line(exc: sqlalchemy.exc.DBAPIError) -> str:
    """The driver's own message, first line only (psycopg appends hints on more lines)."""
    message = str(exc.orig) if exc.orig is not None else str(exc)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0].rstrip(".") if lines else type(exc).__name__


class EngineUser:
    """Base of the storage classes: reads on the engine, writes on its write twin.

    Writes go through ``write_engine`` (``BEGIN IMMEDIATE`` on SQLite, so a writer
    takes the lock before it reads what it will change), and every statement's
    connection errors become ``DatabaseError``.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = write_engine(engine)

    @property
    def engine(self) -> Engine:
        """The engine this reader uses (to share it, and for tests)."""
        return self._engine

    def dispose(self) -> None:
        """Close every pooled connection of the engine; it must not be used afterwards."""
        self._engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(self._engine), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(self._engine), self._writer.begin() as conn:
            yield conn
