"""Change positions of documents, and named export cursors that remember one.

Every transaction that changes what a reader of the corpus sees in a document (its
text, its copy cluster, whether it represents that cluster, its story) ends with
:func:`mark_changed`, which takes the next number from the one-row ``change_counter``
table and writes it into the ``change_seq`` of each document it changed. Readers page
through the corpus in ``(change_seq, id)`` order, so a document comes again, with its
new state, each time it changes.

Why a locked counter and not a timestamp or a plain sequence: a reader that has passed
position *p* must never later find a committed row below *p*. With ``updated_at`` or a
PostgreSQL sequence, a transaction that took its number first may commit after one
that took a later number, and a reader in between skips it for good. Here the counter
row stays locked from the moment a transaction takes its number until it commits
(PostgreSQL row lock; SQLite's writers hold the database lock anyway), so numbers are
handed out in commit order: once a reader sees number *n* committed, every number
below *n* is committed too. Readers take no lock; they read the counter's committed
value *v* first and then only rows numbered up to *v*.

The cost is that document-writing transactions on PostgreSQL commit one at a time.
:func:`mark_changed` is therefore the last thing a transaction does, so the lock is
held only for one indexed UPDATE and the commit. To rule out deadlocks it locks the
document rows first (in URL order, as ``Store.save_batch`` does) and the counter
last: whoever holds the counter then needs no other lock.

``export_cursors`` keeps named positions: ``newsingest export --cursor NAME`` reads
the documents changed after the cursor's position, then moves the cursor past them,
so each consumer gets each document once, and again after it changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BigInteger, Connection, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Document
from storage.rows import chunked, insert_for


class ExportCursorRow(Base):
    """One consumer's position in the stream of document changes (an opaque token)."""

    __tablename__ = "export_cursors"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ChangeCounterRow(Base):
    """The one row (id 1) holding the last change number handed out."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


def mark_changed(conn: Connection, *, urls: Iterable[str] = (), ids: Iterable[int] = ()) -> int:
    """Give the documents named by ``urls`` and ``ids`` the next change number.

    Call it last in the write transaction (see the module docstring). Returns the
    number given, or 0 (and takes no lock) when there is nothing to mark.
    """
    wanted_urls = set(urls)
    wanted_ids = sorted(set(ids))
    for chunk in chunked(wanted_ids):
        wanted_urls.update(conn.scalars(select(Document.url).where(Document.id.in_(chunk))))
    if not wanted_urls:
        return 0
    # Rows first, in URL order like save_batch, so two markers never wait on each other
    # in a cycle; FOR NO KEY UPDATE is what the UPDATE below would take anyway, and it
    # does not block the foreign-key checks of copy and story rows.
    locked: list[int] = []
    for url_chunk in chunked(sorted(wanted_urls)):
        locked += conn.scalars(
            select(Document.id)
            .where(Document.url.in_(url_chunk))
            .order_by(Document.url)
            .with_for_update(key_share=True)
        )
    if not locked:
        return 0
    seq = take_change_number(conn)
    for id_chunk in chunked(sorted(locked)):
        conn.execute(update(Document).where(Document.id.in_(id_chunk)).values(change_seq=seq))
    return seq


def take_change_number(conn: Connection) -> int:
    """Take the next change number; the counter stays locked until the transaction ends."""
    stmt = insert_for(conn, ChangeCounterRow).values(id=1, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ChangeCounterRow.id], set_={"value": ChangeCounterRow.value + 1}
    )
    return int(conn.execute(stmt.returning(ChangeCounterRow.value)).scalar_one())


def last_change_number(conn: Connection) -> int:
    """The last change number committed (0 before any): every row up to it is visible."""
    value = conn.scalar(select(ChangeCounterRow.value).where(ChangeCounterRow.id == 1))
    return int(value or 0)
