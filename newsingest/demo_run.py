"""``newsingest demo``: the real path, end to end, against the bundled newsroom.

It serves the sample newsroom on 127.0.0.1, configures one feed source per
publisher, and lets the scheduler run every source for a number of cycles
(feed poll, Scrapy fetch, trafilatura in worker processes, SQLite).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from newsingest.app import open_app
from newsingest.config import Settings, build_settings
from newsingest.demo.newsroom import Newsroom
from newsingest.ingest import RunReport
from scheduler import Scheduler
from storage.records import SourceSummary
from storage.stories import StoryStore, StorySummary

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo did: every run, the final per-source figures, the time taken."""

    runs: dict[str, list[RunReport]]
    summaries: list[SourceSummary]
    seconds: float
    database: Path
    stories: tuple[StorySummary, ...] = ()  # stories with more than one document

    @property
    def refetched(self) -> int:
        """Articles fetched again after the first cycle (should be 0)."""
        return sum(r.counts.fetched for reports in self.runs.values() for r in reports[1:])


def demo_settings(newsroom: Newsroom, database: Path, interval: str) -> Settings:
    """Settings for the demo: one feed source per publisher, all on 127.0.0.1."""
    return build_settings(
        {
            "database": {"url": f"sqlite:///{database}"},
            # Every publisher shares one host here, so per-domain limits apply to all
            # of them together; on a real crawl they would be separate domains.
            "crawl": {
                "delay": 0.0,
                "autothrottle": False,
                "concurrency_per_domain": 8,
                "timeout": 10,
            },
            "sources": [
                {"id": publisher, "kind": "feed", "url": url, "interval": interval}
                for publisher, url in newsroom.feed_urls().items()
            ],
        },
        origin="demo settings",
    )


def run_demo(database: Path | None = None, *, cycles: int = 2, interval: str = "5s") -> DemoResult:
    """Serve the newsroom and run every source ``cycles`` times through the scheduler."""
    clock = time.monotonic()
    workdir = None if database else tempfile.TemporaryDirectory(prefix="newsingest-demo-")
    database = database or Path(workdir.name) / "demo.sqlite"  # type: ignore[union-attr]
    try:
        with Newsroom() as newsroom:
            settings = demo_settings(newsroom, database, interval)
            runs: dict[str, list[RunReport]] = defaultdict(list)
            lock = threading.Lock()
            stop = threading.Event()

            def on_run(report: RunReport) -> None:
                with lock:
                    runs[report.source].append(report)
                    if len(runs[report.source]) >= cycles:
                        scheduler.unschedule(report.source)
                    if all(len(runs[s.id]) >= cycles for s in settings.sources):
                        stop.set()

            with open_app(settings, stop) as app:
                scheduler = Scheduler(settings.sources, app.ingestor, settings.scheduler, on_run)
                scheduler.run_until_stopped()
                summaries = app.store.source_summaries()
                stories = tuple(StoryStore(app.store.engine).summaries(min_members=2))
        return DemoResult(dict(runs), summaries, time.monotonic() - clock, database, stories)
    finally:
        if workdir is not None:
            workdir.cleanup()


def cycles_table(result: DemoResult) -> Table:
    """Per source: documents stored, pages fetched in each cycle, failures by reason."""
    table = Table(title="Demo: documents per source")
    cycles = max((len(r) for r in result.runs.values()), default=0)
    table.add_column("source", no_wrap=True)
    table.add_column("docs", justify="right")
    for n in range(1, cycles + 1):
        table.add_column(f"fetched #{n}", justify="right")
    table.add_column("failed / skipped by reason")
    per_cycle = [0] * cycles
    for summary in result.summaries:
        reports = result.runs.get(summary.source, [])
        for n, report in enumerate(reports):
            per_cycle[n] += report.counts.fetched
        reasons = {**summary.failures, **summary.skipped}
        failures = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "-"
        fetched = [str(r.counts.fetched) for r in reports] + ["-"] * (cycles - len(reports))
        table.add_row(summary.source, str(summary.documents), *fetched, failures)
    table.add_section()
    total_docs = sum(s.documents for s in result.summaries)
    table.add_row("total", str(total_docs), *map(str, per_cycle), "")
    return table


def stories_table(result: DemoResult) -> Table:
    """Stories with more than one document: id, size, publishers, first title."""
    table = Table(title="Demo: stories with more than one document")
    table.add_column("story", justify="right")
    table.add_column("docs", justify="right")
    table.add_column("publishers", min_width=24)
    table.add_column("first headline", overflow="ellipsis", no_wrap=True, max_width=30)
    for story in result.stories:
        table.add_row(
            str(story.id), str(story.members), ", ".join(story.publishers), story.title or ""
        )
    return table


def print_demo(result: DemoResult, console: Console) -> None:
    console.print(cycles_table(result))
    if result.stories:
        console.print(stories_table(result))
    verdict = (
        "[green]the second cycle fetched no article again[/green]"
        if result.refetched == 0
        else f"[red]{result.refetched} articles were fetched again after the first cycle[/red]"
    )
    console.print(f"Done in {result.seconds:.1f} s; {verdict}.")
