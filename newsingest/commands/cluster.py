"""``newsingest cluster``: copy and story clusters for JSON lines read on stdin.

Each line ``{"id", "title", "text", "url", "published_at"}`` becomes an article that
goes through the same batch stages as an ingested one (copies, then stories; the
learned boilerplate is off, since the lines hold text already) and the same store;
each line out is ``{"id", "copy", "story"}``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click

from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import Settings
from pipeline.records import Article
from pipeline.text import content_hash

SOURCE_ID = "cluster"  # the source every document of this command is stored under
URL_SCHEME = "urn:newsingest:cluster:"  # documents without a URL are keyed by their id


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input line that cannot be clustered, and why."""

    line_no: int
    why: str


@click.command("cluster")
@click.option(
    "--db",
    default=None,
    help="Keep the corpus in this SQLite file or database URL (default: a temporary file).",
)
@pass_context
@friendly_errors
def cluster_command(ctx: Context, db: str | None) -> None:
    """Read JSON lines {id, title, text, url, published_at}; write {id, copy, story}."""
    settings = ctx.settings(required=False)
    with tempfile.TemporaryDirectory(prefix="newsingest-cluster-") as workdir:
        url = _database_url(db, Path(workdir))
        # The lines hold text already; learning per-host boilerplate from them would
        # treat every URL-less line as one host and cut lines they happen to share.
        settings = settings.model_copy(
            update={
                "database": settings.database.model_copy(update={"url": url}),
                "boilerplate": settings.boilerplate.model_copy(update={"enabled": False}),
            }
        )
        bad = run_cluster(settings, sys.stdin, sys.stdout)
    if bad:
        sys.exit(1)


def run_cluster(settings: Settings, lines: IO[str], out: IO[str]) -> int:
    """Cluster the articles of ``lines`` into ``out``; return how many lines were bad."""
    from newsingest.app import batch_stages
    from storage.copies import CopyIndex
    from storage.records import SourceRecord
    from storage.store import open_store
    from storage.stories import StoryStore

    store = open_store(settings.database)
    bad = 0
    try:
        store.sync_sources([SourceRecord(id=SOURCE_ID, kind="stdin", url=None)])
        stages = batch_stages(settings, store)
        copies, stories = CopyIndex(store.engine), StoryStore(store.engine)
        batch: list[tuple[str, Article]] = []

        def flush() -> None:
            articles = [a for _, a in batch]
            for stage in stages:
                articles = stage.before_save(articles)
            store.save_batch(articles)
            for stage in stages:
                stage.after_save(articles)
            urls = [a.url for _, a in batch]
            copy_ids = copies.copies_of(urls)
            story_ids = stories.story_ids(urls)
            for doc_id, article in batch:
                record = {
                    "id": doc_id,
                    "copy": copy_ids.get(article.url),
                    "story": story_ids.get(article.url),
                }
                out.write(json.dumps(record) + "\n")
            out.flush()
            batch.clear()

        for item in read_articles(lines):
            if isinstance(item, BadLine):
                bad += 1
                click.echo(f"newsingest cluster: line {item.line_no}: {item.why}", err=True)
                continue
            batch.append(item)
            if len(batch) >= settings.pipeline.batch_size:
                flush()
        if batch:
            flush()
    finally:
        store.dispose()
    return bad


def read_articles(lines: IO[str]) -> Iterator[tuple[str, Article] | BadLine]:
    """Each line as (its id, an article), or the reason it cannot be one."""
    seen: dict[str, int] = {}
    now = datetime.now(UTC)
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc_id, article = parse_line(line, now)
        except ValueError as exc:
            yield BadLine(line_no, str(exc))
            continue
        if article.url in seen:
            yield BadLine(line_no, f"{article.url} was already given on line {seen[article.url]}")
            continue
        seen[article.url] = line_no
        yield doc_id, article


def parse_line(line: str, now: datetime) -> tuple[str, Article]:
    """One JSON line as (its id, an article); ValueError says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with id, title, text, url, published_at")
    doc_id = data.get("id")
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or str(doc_id) == "":
        raise ValueError('"id" must be a non-empty string or a number')
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'"text" of id {doc_id!r} must be a non-empty string')
    title = data.get("title") or ""
    if not isinstance(title, str):
        raise ValueError(f'"title" of id {doc_id!r} must be a string')
    url = data.get("url") or f"{URL_SCHEME}{doc_id}"
    if not isinstance(url, str):
        raise ValueError(f'"url" of id {doc_id!r} must be a string')
    return str(doc_id), Article(
        url=url,
        final_url=url,
        source=SOURCE_ID,
        title=title,
        authors=(),
        published_at=parse_time(data.get("published_at"), doc_id),
        fetched_at=now,
        language=None,
        text=text,
        raw_text=text,
        content_hash=content_hash(text),
    )


def parse_time(value: object, doc_id: object) -> datetime | None:
    """An ISO 8601 time as tz-aware UTC (a time without a zone is taken as UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f'"published_at" of id {doc_id!r} must be an ISO 8601 string or null')
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f'"published_at" of id {doc_id!r} is not an ISO 8601 time: {value!r}'
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _database_url(db: str | None, workdir: Path) -> str:
    if db is None:
        return f"sqlite:///{workdir / 'cluster.sqlite'}"
    return db if "://" in db else f"sqlite:///{Path(db).expanduser().resolve()}"


COMMANDS = [cluster_command]
