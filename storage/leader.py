"""One scheduler per database: the leader lock a ``newsingest run`` holds while it leads.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection
  of its own, kept out of the pool. The server drops it the moment that session ends,
  so when the leader dies (even by SIGKILL) a standby takes over at its next try.
  The key is derived from the database and schema names, so two databases (or two
  schemas, as the tests use) on one server have separate leaders.
* SQLite: a lease row in ``leases`` (holder, expiry), renewed by a heartbeat thread.
  A dead leader stops renewing; a standby takes the lease once it has expired, so
  take-over happens within the lease time plus one poll, or at once when the holder
  was a process on this host that no longer exists (a SQLite file is local).

Either way a standby tries again every ``poll`` seconds, and a leader that cannot
confirm its lock any more (the connection to PostgreSQL broke, someone else holds the
lease) sets ``lost`` and the stop event, so two processes never schedule at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, String, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import create_engine_for, translate_errors, write_engine
from storage.migrate import ensure_schema
from storage.models import Base
from storage.rows import insert_for
from storage.settings import DatabaseSettings

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"


class LeaseRow(Base):
    """A named lease: who holds it and until when (SQLite's leader lock)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    holder: Mapped[str] = mapped_column(String)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


def holder_id() -> str:
    """Who this process is, for the logs and the lease row: host, pid and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(holder: str) -> bool:
    """True if ``holder`` was a process on this host that no longer exists.

    Lets a restart after a crash take over at once instead of waiting out the lease.
    A reused pid only makes us wait for the lease, as for a holder on another host.
    """
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class _AdvisoryLock:
    """PostgreSQL's session-level advisory lock on a dedicated connection."""

    _KEY = (
        "hashtextextended('newsingest ' || :name || ' ' || current_database() "
        "|| '.' || current_schema(), 0)"
    )

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is None:
            # AUTOCOMMIT: the lock belongs to the session, and no transaction is left
            # idle on the server for as long as we lead.
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = self._conn.scalar(
            text(f"SELECT pg_try_advisory_lock({self._KEY})"), {"name": LOCK_NAME}
        )
        return bool(got)

    def confirm(self) -> bool:
        """True while our session is alive (and so still holds the lock)."""
        assert self._conn is not None
        try:
            self._conn.scalar(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.scalar(text(f"SELECT pg_advisory_unlock({self._KEY})"), {"name": LOCK_NAME})
        except DBAPIError:
            pass  # the session is gone, and its lock with it
        finally:
            self._conn.close()
            self._conn = None


class _LeaseLock:
    """A lease row renewed by the holder; anyone may take it once it has expired."""

    def __init__(self, engine: Engine, holder: str, lease: timedelta) -> None:
        self._writer = write_engine(engine)
        self._holder = holder
        self._lease = lease

    def try_acquire(self) -> bool:
        now = datetime.now(UTC)
        with self._writer.begin() as conn:  # BEGIN IMMEDIATE: one taker at a time
            row = conn.execute(select(LeaseRow).where(LeaseRow.name == LOCK_NAME)).one_or_none()
            if (
                row is not None
                and row.holder != self._holder
                and row.expires_at > now
                and not _gone(row.holder)
            ):
                return False
            values = {
                "name": LOCK_NAME,
                "holder": self._holder,
                "acquired_at": now,
                "expires_at": now + self._lease,
            }
            stmt = insert_for(conn, LeaseRow).values(values)
            conn.execute(stmt.on_conflict_do_update(index_elements=[LeaseRow.name], set_=values))
        return True

    def confirm(self) -> bool:
        """Renew the lease; False if it is no longer ours."""
        now = datetime.now(UTC)
        with self._writer.begin() as conn:
            result = conn.execute(
                update(LeaseRow)
                .where(LeaseRow.name == LOCK_NAME, LeaseRow.holder == self._holder)
                .values(expires_at=now + self._lease)
            )
        return bool(result.rowcount)

    def release(self) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                delete(LeaseRow).where(LeaseRow.name == LOCK_NAME, LeaseRow.holder == self._holder)
            )

    def current_holder(self) -> str | None:
        with self._writer.begin() as conn:
            return conn.scalar(select(LeaseRow.holder).where(LeaseRow.name == LOCK_NAME))


class Leadership:
    """Held leadership: ``lost`` is set if the lock slips away while we lead."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.lost = threading.Event()


@contextmanager
def leadership(
    settings: DatabaseSettings,
    stop: threading.Event,
    *,
    lease_seconds: float = 15.0,
    poll_seconds: float = 1.0,
) -> Iterator[Leadership | None]:
    """Become the database's one scheduler, standing by until then; None if stopped first.

    While held, a heartbeat thread confirms the lock every ``lease_seconds / 3``; if it
    cannot, ``lost`` and ``stop`` are set so the caller winds down. Released on exit.
    """
    engine = create_engine_for(settings)
    try:
        ensure_schema(engine, settings.auto_migrate)
        holder = holder_id()
        lock: _AdvisoryLock | _LeaseLock
        if engine.dialect.name == "postgresql":
            lock = _AdvisoryLock(engine)
        else:
            lock = _LeaseLock(engine, holder, timedelta(seconds=lease_seconds))
        with translate_errors(engine):
            acquired = _wait_for(lock, stop, poll_seconds)
        if not acquired:
            yield None
            return
        logger.info("leading: this process schedules the sources of this database (%s)", holder)
        held = Leadership(holder)
        done = threading.Event()
        beat = threading.Thread(
            target=_heartbeat,
            args=(lock, held, stop, done, lease_seconds),
            name="leader-heartbeat",
            daemon=True,
        )
        beat.start()
        try:
            yield held
        finally:
            done.set()
            beat.join()
            if not held.lost.is_set():
                with translate_errors(engine):
                    lock.release()
    finally:
        engine.dispose()


def _wait_for(lock: _AdvisoryLock | _LeaseLock, stop: threading.Event, poll: float) -> bool:
    said = False
    while not stop.is_set():
        if lock.try_acquire():
            return True
        if not said:
            other = lock.current_holder() if isinstance(lock, _LeaseLock) else None
            logger.info(
                "standing by: another newsingest run leads on this database%s; "
                "taking over when it stops",
                f" ({other})" if other else "",
            )
            said = True
        stop.wait(poll)
    return False


def _heartbeat(
    lock: _AdvisoryLock | _LeaseLock,
    held: Leadership,
    stop: threading.Event,
    done: threading.Event,
    lease: float,
) -> None:
    # A lease survives a failed renewal (SQLite busy for a moment) until it expires;
    # an advisory lock's confirm() answers False itself once the session is gone.
    renewed = time.monotonic()
    while not done.wait(lease / 3):
        try:
            ok = lock.confirm()
        except DBAPIError as exc:
            ok = time.monotonic() - renewed < lease * 0.8
            logger.warning(
                "leader heartbeat failed (%s); %s", exc, "retrying" if ok else "giving up"
            )
        else:
            renewed = time.monotonic() if ok else renewed
        if not ok:
            logger.error(
                "lost the scheduler lock of this database; stopping so that only one "
                "process schedules"
            )
            held.lost.set()
            stop.set()
            return
