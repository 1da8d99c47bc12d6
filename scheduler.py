"""The APScheduler cadence: each source is a job on its own interval or cron.

Jobs never overlap (``max_instances=1``), late runs coalesce into one, and a run
missed while the process was down runs once at start-up: the first fire time is
worked out from the source's last run in the database, not from the clock alone.

``python scheduler.py`` is the same as ``newsingest run``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field

from crawler.sources import SourceConfig

if TYPE_CHECKING:
    from newsingest.ingest import Ingestor, RunReport

logger = logging.getLogger(__name__)


class SchedulerSettings(BaseModel):
    """How many source runs may go at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parallel_runs: int = Field(2, ge=1, le=64)  # each run starts its own fetcher process


def trigger_for(source: SourceConfig) -> BaseTrigger:
    """The source's cadence as an APScheduler trigger (UTC)."""
    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=UTC)
    return IntervalTrigger(seconds=source.every.total_seconds(), timezone=UTC)


def first_run_time(source: SourceConfig, last_started: datetime | None, now: datetime) -> datetime:
    """When the source should first run after start-up.

    Never run: now. Otherwise the next slot after its last run; a slot that passed
    while the process was down means now, once, however many slots were missed.
    """
    if last_started is None:
        return now
    if source.cron:
        due = CronTrigger.from_crontab(source.cron, timezone=UTC).get_next_fire_time(
            None, last_started
        )
    else:
        due = last_started + source.every
    return now if due is None or due <= now else due


class Scheduler:
    """Runs each enabled source on its cadence until stopped."""

    def __init__(
        self,
        sources: Sequence[SourceConfig],
        ingestor: Ingestor,
        settings: SchedulerSettings,
        on_run: Callable[[RunReport], None] | None = None,
    ) -> None:
        self.sources = [s for s in sources if s.enabled]
        self.ingestor = ingestor
        self.on_run = on_run
        self._apscheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(settings.parallel_runs)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._apscheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)

    @property
    def stop_event(self) -> threading.Event:
        return self.ingestor.stop

    def start(self) -> None:
        """Add one job per source and start the scheduler's threads."""
        now = datetime.now(UTC)
        for source in self.sources:
            last = self.ingestor.store.last_run(source.id)
            first = first_run_time(source, last.started_at if last else None, now)
            self._apscheduler.add_job(
                self._run_source,
                trigger_for(source),
                args=[source],
                id=source.id,
                name=f"source {source.id}",
                next_run_time=first,
            )
            logger.info(
                "scheduled source %s (%s), first run %s", source.id, source.kind, first.isoformat()
            )
        self._apscheduler.start()

    def wait(self, poll: float = 0.5) -> None:
        """Block until the stop event is set (by a signal, or by ``on_run``)."""
        while not self.stop_event.wait(poll):
            pass

    def shutdown(self) -> None:
        """Stop scheduling; the running batch finishes and is stored first."""
        self.stop_event.set()
        if self._apscheduler.running:
            self._apscheduler.shutdown(wait=True)

    def unschedule(self, source_id: str) -> None:
        """Stop scheduling one source (a run in progress finishes)."""
        if self._apscheduler.get_job(source_id) is not None:
            self._apscheduler.remove_job(source_id)

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._apscheduler.get_jobs()}

    def _run_source(self, source: SourceConfig) -> None:
        if self.stop_event.is_set():
            return
        for report in self.ingestor.run([source]):
            if self.on_run is not None:
                self.on_run(report)

    def _job_failed(self, event: JobExecutionEvent) -> None:
        # An unexpected exception is a bug: say so loudly, but keep the other
        # sources on their cadence (the run row already records the failure).
        logger.error("job %s crashed: %r\n%s", event.job_id, event.exception, event.traceback)


def main() -> None:
    """``python scheduler.py [--config FILE]``: the long-running main job."""
    import sys

    from newsingest.cli import main as cli_main

    cli_main([*sys.argv[1:], "run"])


if __name__ == "__main__":
    main()
