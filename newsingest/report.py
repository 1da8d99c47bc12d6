"""Tables people read at the end of a command: run summaries and source status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table

from newsingest.ingest import RunReport
from storage.records import SourceSummary


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _reasons(failed: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(failed.items())) or "-"


def runs_table(reports: Sequence[RunReport], title: str = "Runs") -> Table:
    """One row per run: its counts and failures by reason."""
    table = Table(title=title)
    for column in ("source", "status", "found", "new", "fetched", "stored", "updated", "unchanged"):
        table.add_column(column, justify="right" if column not in ("source", "status") else "left")
    table.add_column("failed (by reason)")
    table.add_column("skipped (by reason)")
    table.add_column("seconds", justify="right")
    for r in reports:
        c = r.counts
        table.add_row(
            r.source,
            r.status,
            str(c.found),
            str(c.new),
            str(c.fetched),
            str(c.stored),
            str(c.updated),
            str(c.unchanged),
            _reasons(c.failed),
            _reasons(c.skipped),
            f"{r.seconds:.1f}",
        )
    return table


def sources_table(
    summaries: Sequence[SourceSummary], next_runs: dict[str, datetime | None] | None = None
) -> Table:
    """One row per source: documents, failures and skips by reason, health, last and next run."""
    table = Table(title="Sources")
    for column in (
        "source",
        "kind",
        "documents",
        "failed or skipped URLs",
        "health",
        "last run",
        "next run",
        "last error",
    ):
        table.add_column(column)
    for s in summaries:
        health = (
            "ok"
            if s.state.consecutive_failures == 0
            else f"failing x{s.state.consecutive_failures}"
        )
        last = s.last_run
        table.add_row(
            s.source,
            s.kind,
            str(s.documents),
            _reasons({**s.failures, **s.skipped}),
            health,
            f"{_when(last.started_at)} ({last.status})" if last else "-",
            _when((next_runs or {}).get(s.source)),
            (s.state.last_error or "-")[:80],
        )
    return table


def print_tables(*tables: Table, console: Console | None = None) -> None:
    console = console or Console()
    for table in tables:
        console.print(table)
