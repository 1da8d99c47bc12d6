"""What ``newsingest status`` shows: per source health, documents, last and next run.

The next run is worked out the way the scheduler works it out (``scheduler.next_poll``:
cadence from the last run, stretched by back-off while the source fails), so the
status command needs no running scheduler to answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from crawler.sources import SourceConfig
from scheduler import SchedulerSettings, next_poll
from storage.health import HealthStore, SourceHealth
from storage.records import SourceSummary
from storage.store import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceStatus:
    """One source as ``status`` reports it."""

    source: str
    kind: str
    health: str  # ok | failing | dead | disabled | not configured
    documents: int
    failed: dict[str, int]  # failed or skipped URLs by reason
    consecutive_failures: int
    last_success_at: datetime | None
    last_run_at: datetime | None
    last_run_status: str | None
    next_run_at: datetime | None  # None: not scheduled (dead, disabled, not configured)
    last_error: str | None
    dead_reason: str | None


def health_word(summary: SourceSummary, health: SourceHealth, config: SourceConfig | None) -> str:
    """The one-word health of a source."""
    if config is None:
        return "not configured"
    if not config.enabled:
        return "disabled"
    if health.dead:
        return "dead"
    if summary.state.consecutive_failures > 0:
        return "failing"
    return "ok"


def source_statuses(
    store: Store,
    sources: Sequence[SourceConfig],
    settings: SchedulerSettings,
    now: datetime | None = None,
) -> list[SourceStatus]:
    """The status of every source the database knows, in source id order."""
    now = now or datetime.now(UTC)
    configured = {s.id: s for s in sources}
    healths = HealthStore(store.engine).all_health()
    statuses = []
    for summary in store.source_summaries():
        config = configured.get(summary.source)
        health = healths.get(summary.source, SourceHealth(source=summary.source))
        last = summary.last_run
        next_run = None
        if config is not None:
            next_run = next_poll(
                config,
                state=summary.state,
                health=health,
                last_started=last.started_at if last else None,
                settings=settings,
                now=now,
            )
        statuses.append(
            SourceStatus(
                source=summary.source,
                kind=summary.kind,
                health=health_word(summary, health, config),
                documents=summary.documents,
                failed={**summary.failures, **summary.skipped},
                consecutive_failures=summary.state.consecutive_failures,
                last_success_at=summary.state.last_success_at,
                last_run_at=last.started_at if last else None,
                last_run_status=last.status if last else None,
                next_run_at=next_run,
                last_error=summary.state.last_error,
                dead_reason=health.dead_reason,
            )
        )
    return statuses


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def status_table(statuses: Sequence[SourceStatus]) -> Table:
    """One row per source: health, documents, last run, next run, last error."""
    table = Table(title="Sources")
    for column in ("source", "kind", "health", "documents", "failed URLs"):
        table.add_column(column, justify="right" if column == "documents" else "left")
    for column in ("last run", "next run", "last error"):
        table.add_column(column)
    for s in statuses:
        health = s.health
        if s.health == "dead":
            health = f"dead ({s.dead_reason})"
        elif s.health == "failing":
            health = f"failing x{s.consecutive_failures}"
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(s.failed.items())) or "-"
        last = f"{_when(s.last_run_at)} ({s.last_run_status})" if s.last_run_at else "-"
        table.add_row(
            s.source,
            s.kind,
            health,
            str(s.documents),
            reasons,
            last,
            _when(s.next_run_at),
            (s.last_error or "-")[:80],
        )
    return table


def status_json(statuses: Sequence[SourceStatus]) -> str:
    """The statuses as a JSON array of objects (times in ISO 8601 UTC, or null)."""

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    rows = [{k: plain(v) for k, v in asdict(s).items()} for s in statuses]
    return json.dumps(rows, indent=2, sort_keys=False)
