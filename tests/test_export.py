"""``newsingest export``, run for real, and every format read back by its own reader.

The database (SQLite and PostgreSQL) is filled through storage the way the pipeline
fills it; the command runs as a subprocess, so what is tested is what a user gets:
the rows, the ``next:`` token on stderr, the cursor, and one-sentence errors.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from newsingest.export import (
    COLUMN_NAMES,
    PARQUET_VERSION_KEY,
    SCHEMA_VERSION,
    JsonlWriter,
    ParquetWriter,
    export_row,
)
from storage.corpus import Corpus, CorpusDocument
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from tests.storage.factories import SOURCES, T0, article
from tests.storage.test_corpus import WIRE, assign_copies, assign_stories
from tests.test_cli import NEWSINGEST, assert_one_line_error, cli_env, newsingest, write_config

HOUR = timedelta(hours=1)
WIRE_URL, COPY_URL, LOCAL_URL, GERMAN_URL = (
    "http://a.test/wire",
    "http://b.test/wire",
    "http://a.test/local",
    "http://b.test/de",
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_store(DatabaseSettings(url=database_url))
    store.sync_sources(SOURCES)
    batch = [
        article(WIRE_URL, text=WIRE, title="Terminal approved", published_at=T0 - 2 * HOUR),
        article(COPY_URL, text=WIRE + " (AP)", source="beta", published_at=T0),
        article(LOCAL_URL, text="Local team wins the cup final. " * 10, at=T0 + 3 * HOUR),
        replace(article(GERMAN_URL, text="Der Hafen wächst. " * 10, source="beta"), language="de"),
    ]
    store.save_batch(batch)
    assign_copies(store.engine, batch)
    assign_stories(store.engine, batch)
    yield store
    store.dispose()


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path / "newsingest.toml", {"database": {"url": database_url}})


def export(config: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    result = newsingest("--config", config, "export", *args)
    assert result.returncode == 0, result.stderr
    return result


def next_token(result: subprocess.CompletedProcess[str]) -> str:
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("next: --after ")]
    return line.split()[2]


def jsonl(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def stored(store: Store) -> dict[str, CorpusDocument]:
    return {d.url: d for d in Corpus(store.engine).documents()}


# -- each format, read back --------------------------------------------------------------


def test_jsonl_on_stdout_has_every_column_and_the_ids(store: Store, config: Path) -> None:
    result = export(config)
    rows = {row["url"]: row for row in jsonl(result)}
    assert set(rows) == {WIRE_URL, COPY_URL, LOCAL_URL, GERMAN_URL}
    wire = rows[WIRE_URL]
    assert tuple(wire) == COLUMN_NAMES
    assert wire["schema_version"] == SCHEMA_VERSION
    assert wire["title"] == "Terminal approved"
    assert wire["authors"] == ["Ada Lovelace", "Grace Hopper"]
    assert wire["published_at"] == (T0 - 2 * HOUR).isoformat()
    assert wire["text"] == WIRE
    documents = stored(store)
    for url, row in rows.items():
        assert row["id"] == documents[url].id
        assert row["copy_id"] == documents[url].copy_id is not None
        assert row["story_id"] == documents[url].story_id is not None
    assert rows[WIRE_URL]["copy_id"] == rows[COPY_URL]["copy_id"]
    assert rows[WIRE_URL]["is_representative"] and not rows[COPY_URL]["is_representative"]
    assert "exported 4 documents (jsonl) to stdout" in result.stderr


def test_parquet_reads_back_with_pyarrow(store: Store, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus.parquet"
    result = export(config, "--format", "parquet", "--output", out)
    table = pq.read_table(out)
    assert tuple(table.column_names) == COLUMN_NAMES
    assert table.schema.metadata[PARQUET_VERSION_KEY] == str(SCHEMA_VERSION).encode()
    rows = {row["url"]: row for row in table.to_pylist()}
    documents = stored(store)
    assert set(rows) == set(documents)
    for url, document in documents.items():
        assert rows[url] == export_row(document)  # times come back as tz-aware UTC
    assert "exported 4 documents (parquet)" in result.stderr
    assert list(tmp_path.glob(".*partial")) == []


def test_csv_reads_back_with_the_csv_module(store: Store, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus.csv"
    export(config, "--format", "csv", "-o", out)
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMN_NAMES
        rows = {row["url"]: row for row in reader}
    documents = stored(store)
    german = rows[GERMAN_URL]
    assert german["text"] == documents[GERMAN_URL].text  # non-ASCII survives
    assert german["language"] == "de"
    assert json.loads(german["authors"]) == ["Ada Lovelace", "Grace Hopper"]
    assert german["published_at"] == (T0 - HOUR).isoformat()
    assert rows[WIRE_URL]["is_representative"] == "true"
    assert rows[COPY_URL]["is_representative"] == "false"
    assert rows[WIRE_URL]["copy_id"] == str(documents[WIRE_URL].copy_id)
    assert rows[WIRE_URL]["final_url"] == WIRE_URL + "?from=feed"


def test_filters(store: Store, config: Path) -> None:
    def urls(*args: str) -> set[str]:
        return {row["url"] for row in jsonl(export(config, *args))}

    assert urls("--source", "beta") == {COPY_URL, GERMAN_URL}
    assert urls("--language", "DE") == {GERMAN_URL}
    assert urls("--representatives-only") == {WIRE_URL, LOCAL_URL, GERMAN_URL}
    story = stored(store)[WIRE_URL].story_id
    assert urls("--story", str(story)) == {WIRE_URL, COPY_URL}
    assert urls("--since", "2024-05-01T11:30:00Z") == {COPY_URL}
    assert urls("--until", "2024-05-01T11:00:00+00:00", "--source", "alpha") == {WIRE_URL}
    assert urls("--since", "2024-05-01T13:00", "--time-field", "fetched") == {LOCAL_URL}
    assert urls("--since", "2024-05-02") == set()


# -- reading on ------------------------------------------------------------------------


def test_after_tokens_read_each_document_once_and_again_when_it_changes(
    store: Store, config: Path
) -> None:
    first = export(config, "--limit", "3")
    assert len(jsonl(first)) == 3
    rest = export(config, "--after", next_token(first))
    assert len(jsonl(rest)) == 1
    assert jsonl(export(config, "--after", next_token(rest))) == []

    store.save_batch(
        [
            article("http://a.test/new", text="Something new happened today. " * 5),
            article(LOCAL_URL, text="Local team loses the cup final. " * 10, at=T0 + 5 * HOUR),
        ]
    )
    changed = jsonl(export(config, "--after", next_token(rest)))
    assert [row["url"] for row in changed] == [LOCAL_URL, "http://a.test/new"]
    assert changed[0]["text"].startswith("Local team loses")


def test_a_cursor_moves_only_once_the_output_is_written(
    store: Store, config: Path, tmp_path: Path
) -> None:
    assert len(jsonl(export(config, "--cursor", "nightly"))) == 4
    store.save_batch([article("http://a.test/new", text="Something new. " * 20)])

    # The output cannot be written (a directory is in the way): the cursor stays.
    blocked = tmp_path / "blocked.jsonl"
    blocked.mkdir()
    result = newsingest("--config", config, "export", "--cursor", "nightly", "-o", blocked)
    assert_one_line_error(result, str(blocked))

    out = tmp_path / "new.jsonl"
    result = export(config, "--cursor", "nightly", "-o", out)
    assert "kept in cursor 'nightly'" in result.stderr
    assert [json.loads(line)["url"] for line in out.read_text().splitlines()] == [
        "http://a.test/new"
    ]
    assert jsonl(export(config, "--cursor", "nightly")) == []
    assert len(jsonl(export(config, "--cursor", "another"))) == 5


# -- streaming ---------------------------------------------------------------------------


def documents(n: int) -> Iterator[CorpusDocument]:
    for i in range(n):
        yield CorpusDocument(
            id=i,
            url=f"http://a.test/{i}",
            final_url=None,
            source="alpha",
            title=None,
            authors=(),
            language=None,
            published_at=None,
            fetched_at=None,
            first_seen_at=T0,
            updated_at=T0,
            text="x" * 1000,
            content_hash="h",
            copy_id=None,
            is_representative=False,
            story_id=None,
        )


def test_writers_pass_rows_on_as_they_read_them() -> None:
    text = io.StringIO()
    jsonl_writer = JsonlWriter(text)
    for i, document in enumerate(documents(20)):
        jsonl_writer.write(document)
        assert text.getvalue().count("\n") == i + 1

    sink = io.BytesIO()
    parquet_writer = ParquetWriter(sink, row_group_rows=10)
    sizes = []
    for document in documents(35):
        parquet_writer.write(document)
        sizes.append(len(sink.getvalue()))
    parquet_writer.finish()
    # Nothing but the header before the first group is full, then one group per 10 rows.
    assert len(set(sizes[:9])) == 1
    assert sizes[9] > sizes[8] and sizes[19] > sizes[18] and sizes[29] > sizes[28]
    assert pq.ParquetFile(io.BytesIO(sink.getvalue())).num_row_groups == 4


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "yesterday"], "'yesterday'"),
        (["--until", "2024-13-01"], "'2024-13-01'"),
        (["--since", "2024-05-02", "--until", "2024-05-01"], "2024-05-02"),
        (["--after", "not-a-token"], "'not-a-token'"),
        (["--source", "gamma"], "'gamma'"),
        (["--story", "999999"], "story 999999"),
        (["--format", "parquet"], "--output"),
        (["--cursor", "a", "--after", "x"], "--cursor"),
        (["-o", "/no/such/dir/out.jsonl"], "/no/such/dir"),
    ],
)
def test_bad_input_is_one_sentence_naming_it(
    sqlite_url: str, tmp_path: Path, args: list[str], named: str
) -> None:
    # Checked before anything is read: one database kind is enough.
    store = open_store(DatabaseSettings(url=sqlite_url))
    store.sync_sources(SOURCES)
    store.dispose()
    config = write_config(tmp_path / "newsingest.toml", {"database": {"url": sqlite_url}})
    assert_one_line_error(newsingest("--config", config, "export", *args), named)


def test_a_reader_that_stops_early_leaves_the_cursor(sqlite_url: str, tmp_path: Path) -> None:
    store = open_store(DatabaseSettings(url=sqlite_url))
    store.sync_sources(SOURCES)
    # Far more than a pipe holds, so the export is still writing when the reader goes.
    store.save_batch([article(f"http://a.test/{i}", text=f"{i} " + "x" * 4000) for i in range(200)])
    store.dispose()
    config = write_config(tmp_path / "newsingest.toml", {"database": {"url": sqlite_url}})
    child = subprocess.Popen(
        [str(NEWSINGEST), "--config", str(config), "export", "--cursor", "feed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert child.stdout is not None and child.stderr is not None
    assert json.loads(child.stdout.readline())["url"] == "http://a.test/0"
    child.stdout.close()  # like `| head -1`
    assert child.wait(60) == 1
    assert b"Traceback" not in child.stderr.read()
    # The cursor did not move: the next export with it starts from the beginning.
    assert len(jsonl(export(config, "--cursor", "feed"))) == 200
