"""``newsingest backfill FILE|-``: fetch and store a long list of article URLs, resumably."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from crawler.sources import SOURCE_ID_PATTERN, SourceConfig
from crawler.urllist import count_lines
from newsingest.backfill import (
    BAD_LINE_REASON,
    BAD_LINES_KEPT,
    DEFAULT_CHUNK_SIZE,
    BackfillResult,
    BackfillSnapshot,
    URLList,
    run_backfill,
)
from newsingest.clicommon import Context, friendly_errors, pass_context
from newsingest.config import ConfigError, Settings
from storage.records import SourceRecord

logger = logging.getLogger(__name__)

# The rule SourceConfig.id applies to configured sources.
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)


@click.command("backfill")
@click.argument("url_list", metavar="FILE|-")
@click.option(
    "--source",
    "source_id",
    default="backfill",
    show_default=True,
    help="Source id the documents are stored under; a configured source must be of kind urls.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="URLs fetched per fetcher process; progress is recorded after each chunk.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Read FILE from its first line again (stored pages are still skipped; failed "
    "ones are retried up to 3 attempts).",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal.",
)
@pass_context
@friendly_errors
def backfill_command(
    ctx: Context,
    url_list: str,
    source_id: str,
    chunk_size: int,
    restart: bool,
    progress_every: float,
) -> None:
    """Fetch and store the article URLs listed in FILE (one per line; - reads stdin).

    The list is streamed, so it may hold millions of URLs. URLs already stored (after
    canonicalisation) are skipped; the rest are fetched with the same politeness as
    scheduled crawls. Lines that are not http(s) URLs are counted and listed at the
    end, never fatal.

    Resumable: a FILE's progress is recorded after every chunk, and running the same
    command again continues after the last stored chunk without fetching any stored
    page again. Ctrl-C (or SIGTERM) finishes the chunk in hand and stops; a second one
    stops after the batch in hand; a third aborts. Stdin cannot resume by line
    number: there, only the check for stored URLs keeps pages from being fetched twice.
    """
    from newsingest.app import open_app
    from storage.backfill import BackfillStore

    settings = ctx.settings()
    source = _backfill_source(settings, source_id, url_list)
    chunk_stop, batch_stop = threading.Event(), threading.Event()
    with (
        _opened(url_list) as listing,
        open_app(settings, batch_stop) as app,
        _stop_in_steps(chunk_stop, batch_stop),
    ):
        if source_id not in {s.id for s in settings.sources}:
            app.store.sync_sources(
                [SourceRecord(id=source.id, kind="urls", url=str(source.path or "-"))]
            )
        with _display(listing, progress_every) as show:
            result = run_backfill(
                app.ingestor,
                BackfillStore(app.store.engine),
                source,
                listing,
                chunk_size=chunk_size,
                restart=restart,
                stop=chunk_stop,
                on_progress=show,
                progress_every=0.5 if sys.stderr.isatty() else progress_every,
            )
    _print_summary(result, Console())


COMMANDS = [backfill_command]


# -- the list and its source -------------------------------------------------------------


def _backfill_source(settings: Settings, source_id: str, url_list: str) -> SourceConfig:
    """The configured urls source ``source_id``, or a source of that id for this list."""
    for source in settings.sources:
        if source.id == source_id:
            if source.kind != "urls":
                raise ConfigError(
                    f"source {source_id!r} is a {source.kind} source; backfill stores "
                    "under a urls source: choose another --source"
                )
            return source
    if not _SOURCE_ID.match(source_id):
        raise ConfigError(
            f"--source {source_id!r} is not a source id (letters, digits, '_', '.' and '-', "
            "at most 64)"
        )
    # Not validated: SourceConfig insists that a urls source's path is a file, which
    # stdin is not; the list itself is opened (and checked) by the command.
    return SourceConfig.model_construct(
        id=source_id, kind="urls", path=None if url_list == "-" else Path(url_list)
    )


@contextmanager
def _opened(url_list: str) -> Iterator[URLList]:
    """The list to read: stdin for ``-``, else the file, with its resume key and size."""
    if url_list == "-":
        # Decode stdin ourselves: the locale may not be UTF-8, and a BOM is not a URL.
        stdin = open(  # noqa: SIM115 (closed below)
            sys.stdin.fileno(), encoding="utf-8-sig", errors="replace", closefd=False
        )
        with stdin:
            yield URLList(name="-", lines=stdin, key=None)
        return
    path = Path(url_list)
    if path.is_dir():
        raise ConfigError(f"URL list {url_list!r} is a directory; give a file with one URL a line")
    try:
        lines: TextIO = path.open(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read URL list {url_list!r} ({exc.strerror})") from None
    with lines:
        total = count_lines(path) if path.is_file() else None  # not for a named pipe
        yield URLList(name=url_list, lines=lines, key=str(path.resolve()), total_lines=total)


# -- signals -------------------------------------------------------------------------------


@contextmanager
def _stop_in_steps(chunk_stop: threading.Event, batch_stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM: first finish the chunk, then the batch in hand, then abort."""

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not chunk_stop.is_set():
            chunk_stop.set()
            logger.warning(
                "received %s: finishing the chunk in hand, then stopping (again: stop "
                "after the batch in hand)",
                name,
            )
        elif not batch_stop.is_set():
            batch_stop.set()
            logger.warning(
                "received %s: stopping after the batch in hand; pages then in flight are "
                "fetched again next time (again: abort)",
                name,
            )
        else:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# -- progress --------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _tally(s: BackfillSnapshot) -> str:
    return (
        f"stored {s.stored:,}, already stored {s.already_stored:,}, failed {s.failed:,}, "
        f"bad lines {s.bad_lines:,}"
    )


def _plain_line(s: BackfillSnapshot) -> str:
    """One progress line for logs: position, rate, ETA, outcomes so far."""
    where = f"line {s.line:,}"
    if s.total_lines:
        where += f" of {s.total_lines:,} ({100 * s.line / s.total_lines:.0f}%)"
    return (
        f"backfill: {where}, {s.pages_per_second:.1f} pages/s, "
        f"ETA {_duration(s.eta_seconds)}; {_tally(s)}"
    )


@contextmanager
def _display(listing: URLList, every: float) -> Iterator[Callable[[BackfillSnapshot], None]]:
    """A progress bar on a terminal (stderr), else a plain line every ``every`` seconds."""
    if not sys.stderr.isatty():

        def line(snapshot: BackfillSnapshot) -> None:
            print(_plain_line(snapshot), file=sys.stderr, flush=True)

        yield line
        return
    progress = Progress(
        TextColumn("[bold]backfill"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        # Short enough for an 80-column terminal; a wrapped bar redraws badly.
        TextColumn("lines {task.fields[rate]} ETA {task.fields[eta]} {task.fields[tally]}"),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task(
        "backfill", total=listing.total_lines, rate="", eta="?", tally="starting"
    )

    def bar(s: BackfillSnapshot) -> None:
        progress.update(
            task,
            completed=s.line,
            rate=f"{s.pages_per_second:.1f}/s",
            eta=_duration(s.eta_seconds),
            tally=f"stored {s.stored:,} failed {s.failed:,} bad {s.bad_lines:,}",
        )

    with progress, _logs_above(progress):
        yield bar


@contextmanager
def _logs_above(progress: Progress) -> Iterator[None]:
    """Send log records through the live display, so they print above the bar.

    The log handler holds the stderr it was built with; rich has replaced sys.stderr
    with a proxy that prints above the bar, and records written past it would tear
    the bar apart.
    """
    del progress  # started: sys.stderr is its proxy now
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is sys.__stderr__
    ]
    for handler in handlers:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(sys.__stderr__)


# -- the summary -----------------------------------------------------------------------------


def _print_summary(result: BackfillResult, console: Console) -> None:
    """The run's counts, failures by reason, bad lines, and where the list stands."""
    from newsingest.report import print_tables, runs_table

    report = result.report
    tables = [runs_table([report], title=f"Backfill of {result.list_name}")]
    reasons = [(r, n, "failed") for r, n in report.counts.failed.items() if r != BAD_LINE_REASON]
    reasons += [(r, n, "skipped") for r, n in report.counts.skipped.items()]
    if reasons:
        table = Table(title="Failures by reason")
        table.add_column("reason")
        table.add_column("URLs", justify="right")
        table.add_column("outcome")
        for reason, n, outcome in sorted(reasons, key=lambda r: (-r[1], r[0])):
            table.add_row(reason, f"{n:,}", outcome)
        tables.append(table)
    print_tables(*tables, console=console)
    if result.bad_line_count:
        console.print(f"{result.bad_line_count:,} bad lines (not fetched):", highlight=False)
        for bad in result.bad_lines:
            console.print(f"  line {bad.line_no}: {bad.text!r} ({bad.why})", highlight=False)
        if (more := result.bad_line_count - len(result.bad_lines)) > 0:
            console.print(
                f"  ... and {more:,} more (the first {BAD_LINES_KEPT} are listed; "
                "--log-level DEBUG logs every one)",
                highlight=False,
            )
    if result.list_name == "-":
        console.print(
            "Read from stdin: a new run cannot resume by line, but skips every URL stored.",
            highlight=False,
        )
    elif result.finished:
        console.print(
            f"Reached the end of {result.list_name} (line {result.lines_done:,}).",
            highlight=False,
        )
    else:
        console.print(
            f"Stopped: lines up to {result.lines_done:,} of {result.list_name} are done; "
            "run the same command again to continue.",
            highlight=False,
        )
