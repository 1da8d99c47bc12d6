"""Write corpus documents as JSONL, CSV or Parquet, one row per document, streamed.

The rows follow one documented, versioned schema (``SCHEMA_VERSION``, ``COLUMNS``):
every JSONL object and CSV row carries ``schema_version``, and a Parquet file also
keeps it in its metadata under ``newsingest.schema_version``. A change that renames,
removes or retypes a column bumps the version; adding a column does not.

Nothing is held whole: JSONL and CSV are written row by row, Parquet one row group
(``PARQUET_ROW_GROUP_ROWS`` rows) at a time. A file is written under a temporary
name beside it, flushed to disk, and only then renamed into place, so a reader (or a
cursor moved afterwards) never sees half an export.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from storage.corpus import CorpusDocument

SCHEMA_VERSION = 1
Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "parquet", "csv")
PARQUET_ROW_GROUP_ROWS = 5_000
PARQUET_VERSION_KEY = b"newsingest.schema_version"

_TIME = pa.timestamp("us", tz="UTC")
# The export schema, version 1: (column, Arrow type, nullable). The README documents it.
COLUMNS: tuple[tuple[str, pa.DataType, bool], ...] = (
    ("schema_version", pa.int32(), False),
    ("id", pa.int64(), False),
    ("url", pa.string(), False),
    ("final_url", pa.string(), True),
    ("source", pa.string(), False),
    ("title", pa.string(), True),
    ("authors", pa.list_(pa.string()), False),
    ("language", pa.string(), True),
    ("published_at", _TIME, True),
    ("fetched_at", _TIME, True),
    ("first_seen_at", _TIME, False),
    ("updated_at", _TIME, False),
    ("text", pa.string(), False),
    ("content_hash", pa.string(), False),
    ("copy_id", pa.int64(), True),
    ("is_representative", pa.bool_(), False),
    ("story_id", pa.int64(), True),
)
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)
PARQUET_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=nullable) for name, kind, nullable in COLUMNS],
    metadata={PARQUET_VERSION_KEY: str(SCHEMA_VERSION).encode()},
)


def export_row(document: CorpusDocument) -> dict[str, Any]:
    """The export row of a document, as Python values (times as datetimes)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": document.id,
        "url": document.url,
        "final_url": document.final_url,
        "source": document.source,
        "title": document.title,
        "authors": list(document.authors),
        "language": document.language,
        "published_at": document.published_at,
        "fetched_at": document.fetched_at,
        "first_seen_at": document.first_seen_at,
        "updated_at": document.updated_at,
        "text": document.text,
        "content_hash": document.content_hash,
        "copy_id": document.copy_id,
        "is_representative": document.is_representative,
        "story_id": document.story_id,
    }


class RowWriter(Protocol):
    """Writes export rows to one destination."""

    def write(self, document: CorpusDocument) -> None: ...

    def finish(self) -> None: ...


class JsonlWriter:
    """One JSON object per line; times in ISO 8601 (UTC), missing values as null."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self._stream = stream

    def write(self, document: CorpusDocument) -> None:
        row = {k: _iso(v) for k, v in export_row(document).items()}
        self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")

    def finish(self) -> None:
        self._stream.flush()


class CsvWriter:
    """A header line, then one row per document (RFC 4180 quoting, CRLF line ends).

    Missing values are empty cells, booleans ``true``/``false``, ``authors`` a JSON
    array: a CSV cell has no list type, and names may hold any separator.
    """

    def __init__(self, stream: io.TextIOBase) -> None:
        self._stream = stream
        self._csv = csv.writer(stream)
        self._csv.writerow(COLUMN_NAMES)

    def write(self, document: CorpusDocument) -> None:
        self._csv.writerow([_cell(value) for value in export_row(document).values()])

    def finish(self) -> None:
        self._stream.flush()


class ParquetWriter:
    """Row groups of ``row_group_rows`` documents, compressed with zstd."""

    def __init__(self, sink: BinaryIO, row_group_rows: int = PARQUET_ROW_GROUP_ROWS) -> None:
        self._writer = pq.ParquetWriter(sink, PARQUET_SCHEMA, compression="zstd")
        self._rows = row_group_rows
        self._columns: dict[str, list[Any]] = {name: [] for name in COLUMN_NAMES}
        self._pending = 0

    def write(self, document: CorpusDocument) -> None:
        for name, value in export_row(document).items():
            self._columns[name].append(value)
        self._pending += 1
        if self._pending >= self._rows:
            self._flush()

    def finish(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pydict(self._columns, schema=PARQUET_SCHEMA)
        self._writer.write_table(table, row_group_size=self._pending)
        self._columns = {name: [] for name in COLUMN_NAMES}
        self._pending = 0


def write_documents(
    documents: Iterable[CorpusDocument],
    fmt: Format,
    output: Path | None,
    *,
    row_group_rows: int = PARQUET_ROW_GROUP_ROWS,
) -> int:
    """Write ``documents`` in format ``fmt`` to ``output`` (None: stdout); count them.

    When this returns, every row is flushed: to disk for a file (then renamed into
    place), to the pipe for stdout. On an error a file is left as it was before.
    """
    if output is None:
        if fmt == "parquet":
            raise ValueError("Parquet cannot be written to stdout")
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            return _write_all(documents, _text_writer(fmt, stream))
        finally:
            stream.detach()  # stdout stays open for whoever owns it
    with _replacing(output) as sink:
        if fmt == "parquet":
            return _write_all(documents, ParquetWriter(sink, row_group_rows))
        stream = io.TextIOWrapper(sink, encoding="utf-8", newline="")
        try:
            return _write_all(documents, _text_writer(fmt, stream))
        finally:
            stream.detach()


def _text_writer(fmt: Format, stream: io.TextIOBase) -> RowWriter:
    return JsonlWriter(stream) if fmt == "jsonl" else CsvWriter(stream)


def _write_all(documents: Iterable[CorpusDocument], writer: RowWriter) -> int:
    count = 0
    for document in documents:
        writer.write(document)
        count += 1
    writer.finish()
    return count


@contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    """A file written beside ``path`` and renamed onto it once complete and on disk."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return _iso(value)
