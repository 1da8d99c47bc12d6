"""``newsingest extract``: the extraction and cleaning stages offline, JSON lines out.

Reads ``{"url", "html"}`` lines on stdin (or HTML files named as arguments) and
writes ``{"url", "title", "authors", "published_at", "language", "text"}`` per input;
with ``--text``, reads ``{"id", "text"}`` lines and writes ``{"id", "text"}`` with the
cleaned text. Output order is input order, one line per input line, so a consumer can
zip the two streams; a page that fails (or a line that is not valid input) still gets
its line, with ``"text": ""`` and an ``"error"`` reason.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from trafilatura.utils import decode_file

from crawler.records import FetchedPage
from newsingest.clicommon import Context, friendly_errors, pass_context
from pipeline.clean import clean_text
from pipeline.extract import extract_article
from pipeline.records import Article, Outcome
from pipeline.settings import PipelineSettings
from pipeline.workers import ExtractionPool

# Fewer inputs than this are extracted in this process: starting workers costs more.
POOL_THRESHOLD = 8


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input line that could not be read, and why."""

    number: int
    reason: str


@click.command("extract")
@click.option("--text", "text_mode", is_flag=True, help='Clean {"id", "text"} lines instead.')
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@friendly_errors
def extract_command(ctx: Context, text_mode: bool, files: tuple[Path, ...]) -> None:
    """Extract and clean pages offline: JSON lines on stdin (or HTML FILES) to stdout."""
    settings = ctx.settings(required=False).pipeline
    out = sys.stdout
    if text_mode:
        if files:
            raise click.UsageError("--text reads JSON lines on stdin; it takes no FILES")
        bad = write_lines(out, (clean_line(item) for item in read_json_lines(sys.stdin, "id")))
    else:
        pages = file_pages(files) if files else read_json_lines(sys.stdin, "url")
        bad = write_lines(out, extract_pages(pages, settings))
    if bad:
        sys.exit(1)


def read_json_lines(stream: TextIO, key: str) -> Iterator[dict[str, Any] | BadLine]:
    """Each non-blank line as a JSON object with string ``key`` (and html/text), or why not."""
    body = "text" if key == "id" else "html"
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadLine(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(item, dict):
            yield BadLine(number, f'expected a JSON object with "{key}" and "{body}"')
        elif not isinstance(item.get(body), str):
            yield BadLine(number, f'"{body}" is missing or not a string')
        elif key == "url" and not isinstance(item.get("url"), str):
            yield BadLine(number, '"url" is missing or not a string')
        else:
            yield item


def file_pages(files: Iterable[Path]) -> Iterator[dict[str, Any] | BadLine]:
    """HTML files as input items, their file: URI as the URL."""
    for number, path in enumerate(files, start=1):
        try:
            html = decode_file(path.read_bytes())
        except OSError as exc:
            yield BadLine(number, f"cannot read {path}: {exc.strerror}")
            continue
        yield {"url": path.resolve().as_uri(), "html": html}


def clean_line(item: dict[str, Any] | BadLine) -> dict[str, Any] | BadLine:
    """``{"id", "text"}`` with the text cleaned."""
    if isinstance(item, BadLine):
        return item
    return {"id": item.get("id"), "text": clean_text(item["text"]).text}


def extract_pages(
    items: Iterable[dict[str, Any] | BadLine], settings: PipelineSettings
) -> Iterator[dict[str, Any] | BadLine]:
    """Extract each page, in a worker pool once there are many, keeping input order."""
    buffered: list[dict[str, Any] | BadLine] = []
    iterator = iter(items)
    for item in iterator:
        buffered.append(item)
        if len(buffered) >= POOL_THRESHOLD:
            break
    if len(buffered) < POOL_THRESHOLD:
        for item in buffered:
            yield (
                item if isinstance(item, BadLine) else _record(item, _extract_here(item, settings))
            )
        return
    with ExtractionPool(settings) as pool:
        # A bounded window of futures: memory stays flat on a long stream, and the
        # results are written in the order the inputs came.
        window: deque[tuple[dict[str, Any] | BadLine, Future[Outcome] | None]] = deque()
        limit = 4 * pool.size
        for item in _chain(buffered, iterator):
            future = None if isinstance(item, BadLine) else pool.submit(_page(item))
            window.append((item, future))
            while len(window) > limit:
                yield _finish(pool, *window.popleft())
        while window:
            yield _finish(pool, *window.popleft())


def _chain(
    first: list[dict[str, Any] | BadLine], rest: Iterator[dict[str, Any] | BadLine]
) -> Iterator[dict[str, Any] | BadLine]:
    yield from first
    yield from rest


def _finish(
    pool: ExtractionPool, item: dict[str, Any] | BadLine, future: Future[Outcome] | None
) -> dict[str, Any] | BadLine:
    if isinstance(item, BadLine) or future is None:
        return item
    page = _page(item)
    return _record(item, pool.result(page, future))


_FETCHED_AT = datetime(1970, 1, 1, tzinfo=UTC)


def _page(item: dict[str, Any]) -> FetchedPage:
    return FetchedPage(
        url=item["url"],
        final_url=item["url"],
        source="extract",
        status=200,
        body=item["html"].encode("utf-8"),
        encoding="utf-8",
        fetched_at=_FETCHED_AT,
    )


def _extract_here(item: dict[str, Any], settings: PipelineSettings) -> Outcome:
    return extract_article(_page(item), settings)


def _record(item: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Article):
        return {
            "url": item["url"],
            "title": outcome.title or None,
            "authors": list(outcome.authors),
            "published_at": outcome.published_at.isoformat() if outcome.published_at else None,
            "language": outcome.language,
            "text": outcome.text,
        }
    return {
        "url": item["url"],
        "title": None,
        "authors": [],
        "published_at": None,
        "language": None,
        "text": "",
        "error": f"{outcome.reason}: {outcome.detail}",
    }


def write_lines(out: TextIO, records: Iterable[dict[str, Any] | BadLine]) -> int:
    """Write one JSON line per record; a bad input line also goes to stderr. Returns those."""
    bad = 0
    for record in records:
        if isinstance(record, BadLine):
            bad += 1
            click.echo(f"newsingest extract: input line {record.number}: {record.reason}", err=True)
            record = {"text": "", "error": f"input line {record.number}: {record.reason}"}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return bad


COMMANDS = [extract_command]
