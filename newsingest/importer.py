"""Local archives into the corpus: the pages of files, directories and WARCs, stored
through the same extraction, cleaning, dedup and batch stages as fetched pages.

``archive_results`` is what a ``files`` source yields to ``Ingestor.store_results``;
``import_paths`` is ``newsingest import``: one run of one source over the paths given.
Every page of an archive is read and extracted on every import: a page already
stored comes out *unchanged* (or *updated*, if the file changed), never twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from crawler.archives import ArchiveError, ArchiveSkip, read_archives
from crawler.records import FetchedPage
from crawler.sources import SourceConfig
from newsingest.config import ConfigError, Settings
from storage.records import RunCounts, SourceRecord
from storage.store import Store

if TYPE_CHECKING:  # newsingest.ingest reads files sources through this module
    from newsingest.ingest import Ingestor, RunReport

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "import"

# Pages are checked against the store this many at a time, to count the new ones.
_CHECK_EVERY = 200

Progress = Callable[[int], None]  # called with the number of pages read so far


def archive_results(
    paths: Sequence[Path],
    source: str,
    store: Store,
    counts: RunCounts,
    *,
    max_bytes: int,
    errors: list[ArchiveError] | None = None,
    progress: Progress | None = None,
) -> Iterator[FetchedPage]:
    """The pages under ``paths`` as ``source``'s fetched pages, counted into ``counts``.

    ``found`` counts the pages, ``new`` those whose URL the store does not know yet;
    a file or record left out is counted under ``skipped`` by reason, and a file that
    could not be read under ``failed`` by reason (logged with its name, and appended
    to ``errors`` when given). Nothing is stored for those: they are not documents.
    """
    pending: list[FetchedPage] = []
    read = 0

    def release() -> Iterator[FetchedPage]:
        known = store.urls_to_skip(p.url for p in pending)
        counts.new += sum(p.url not in known for p in pending)
        yield from pending
        pending.clear()

    for item in read_archives(paths, source, max_bytes=max_bytes):
        if isinstance(item, ArchiveSkip):
            logger.debug(
                "import %s (%s): skipped, %s: %s", item.path, source, item.reason, item.detail
            )
            counts.skipped[item.reason] += 1
        elif isinstance(item, ArchiveError):
            logger.warning("import %s (%s): %s", item.path, source, item.detail)
            counts.failed[item.reason] += 1
            if errors is not None:
                errors.append(item)
        else:
            counts.found += 1
            read += 1
            pending.append(item)
            if progress is not None:
                progress(read)
            if len(pending) >= _CHECK_EVERY:
                yield from release()
    if pending:
        yield from release()


@dataclass(slots=True)
class ImportResult:
    """What ``import_paths`` did: the run's report and the files it could not read."""

    report: RunReport
    errors: list[ArchiveError] = field(default_factory=list)


def import_source(settings: Settings, source_id: str, paths: Sequence[Path]) -> SourceRecord:
    """The source an import is recorded under: the configured one of that id (which
    must be a ``files`` source), else a new ``files`` source of that id."""
    configured = {s.id: s for s in settings.sources}
    if source_id in configured:
        config = configured[source_id]
        if config.kind != "files":
            raise ConfigError(
                f"source {source_id!r} is a {config.kind} source in the config; "
                "import into a files source or under a new id (--source)"
            )
        return SourceRecord(id=source_id, kind="files", url=str(config.path), enabled=True)
    try:
        SourceConfig(id=source_id, kind="files", path=paths[0])
    except ValidationError as exc:
        if any(error["loc"] == ("id",) for error in exc.errors()):
            raise ConfigError(
                f"{source_id!r} is not a source id: use letters, digits, '.', '_' and '-' "
                "(at most 64 characters), starting with a letter or digit"
            ) from None
        raise
    return SourceRecord(
        id=source_id, kind="files", url=" ".join(str(p) for p in paths), enabled=True
    )


def import_paths(
    ingestor: Ingestor,
    source: SourceRecord,
    paths: Sequence[Path],
    progress: Progress | None = None,
) -> ImportResult:
    """One run of ``source`` over ``paths``: every page extracted and stored in batches."""
    ingestor.store.sync_sources([source])
    errors: list[ArchiveError] = []
    spec = SourceConfig(id=source.id, kind="files", path=paths[0])
    with ingestor.runs([spec]) as reports:
        report = reports[source.id]
        pages = archive_results(
            paths,
            source.id,
            ingestor.store,
            report.counts,
            max_bytes=ingestor.settings.crawl.max_page_bytes,
            errors=errors,
            progress=progress,
        )
        ingestor.store_results(pages, reports)
    return ImportResult(report=report, errors=errors)
