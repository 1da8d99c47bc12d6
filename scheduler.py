"""The APScheduler cadence: each source is a job on its own interval or cron.

Jobs never overlap (``max_instances=1``), late runs coalesce into one, and a run
missed while the process was down runs once at start-up: the first fire time is
worked out from the source's last run in the database, not from the clock alone.

``python scheduler.py`` is the same as ``newsingest run``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crawler.sources import SourceConfig, parse_interval
from storage.health import HealthStore, SourceHealth
from storage.jobs import JOBS_TABLE
from storage.records import FetchState

if TYPE_CHECKING:
    from newsingest.config import Settings
    from newsingest.ingest import Ingestor, RunReport

logger = logging.getLogger(__name__)

# A job that fires this little before its computed slot runs anyway (clock jitter).
_EARLY = timedelta(seconds=0.5)


class SchedulerSettings(BaseModel):
    """How many source runs may go at once, back-off, dead sources and jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parallel_runs: int = Field(2, ge=1, le=64)  # each run starts its own fetcher process
    # A failing source waits interval * 2**failures between polls, at most this long.
    backoff_cap: str = "1d"
    # This many 404s in a row (or one 410 Gone) declare a feed dead.
    dead_after_not_found: int = Field(3, ge=1, le=1000)
    # Each run starts up to this much later than its slot, at random, so sources on
    # the same cadence do not all hit the network (and one host) at the same second.
    jitter: str = "0s"
    # SQLite leader lease: a standby takes over at most this long after the leader
    # dies (PostgreSQL's advisory lock is freed at once; standbys try every second).
    leader_lease: str = "15s"
    # Adaptive polling of feeds: the interval halves after a poll that found new
    # articles and grows by half after one that found none, staying between these
    # multiples of the configured interval (1 and 1 turn it off).
    adaptive_min: float = Field(0.25, gt=0, le=1)
    adaptive_max: float = Field(4.0, ge=1, le=1000)

    @field_validator("backoff_cap", "jitter", "leader_lease")
    @classmethod
    def _duration(cls, value: str) -> str:
        duration(value)
        return value


def duration(text: str) -> timedelta:
    """``0`` / ``0s`` or an interval such as ``30s``, ``15m``, ``2h``, ``1d``."""
    if text.strip().rstrip("smhd") in ("0", "0.0"):
        return timedelta(0)
    return parse_interval(text)


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


def cadence(source: SourceConfig, health: SourceHealth | None = None) -> timedelta:
    """The source's current interval: adaptive if health has one, else the configured
    one (for a cron source, the gap between its next two slots)."""
    if source.cron:
        trigger = CronTrigger.from_crontab(source.cron, timezone=UTC)
        first = trigger.get_next_fire_time(None, datetime.now(UTC))
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return second - first if first and second else source.every
    if health is not None and health.poll_interval:
        return timedelta(seconds=health.poll_interval)
    return source.every


def backoff_delay(interval: timedelta, failures: int, cap: timedelta) -> timedelta:
    """How long a source with ``failures`` failed polls in a row waits before the next:
    ``interval * 2**failures``, at most ``cap`` (never less than the interval itself)."""
    if failures <= 0:
        return interval
    stretched: timedelta = interval * (2 ** min(failures, 30))
    return min(stretched, max(cap, interval))


def next_poll(
    source: SourceConfig,
    *,
    state: FetchState,
    health: SourceHealth,
    last_started: datetime | None,
    settings: SchedulerSettings,
    now: datetime,
) -> datetime | None:
    """When ``source`` is next due: its cadence from the last run, stretched by back-off
    while it fails; never in the past; None for a dead or disabled source."""
    if health.dead or not source.enabled:
        return None
    interval = cadence(source, health)
    if last_started is None:
        due = now
    elif source.cron:
        due = first_run_time(source, last_started, now)
    else:
        due = last_started + interval
    if state.consecutive_failures > 0 and state.last_attempt_at is not None:
        wait = backoff_delay(interval, state.consecutive_failures, duration(settings.backoff_cap))
        due = max(due, state.last_attempt_at + wait)
    return max(due, now)


def adapt_interval(
    current: timedelta, configured: timedelta, new_items: int, settings: SchedulerSettings
) -> timedelta:
    """The next poll interval of a feed after a successful poll that found ``new_items``.

    Like Media Cloud's feed fetcher: poll busy feeds more often and quiet ones less,
    within ``adaptive_min`` and ``adaptive_max`` times the configured interval.
    """
    stretched = current / 2 if new_items > 0 else current * 1.5
    low, high = configured * settings.adaptive_min, configured * settings.adaptive_max
    return max(low, min(high, stretched))


def feed_failure(report: RunReport) -> str | None:
    """The reason the run's feed poll failed (``http_410``, ``timeout``, ...), or None."""
    for key in report.counts.failed:
        if key.startswith("feed_"):
            return key.removeprefix("feed_")
    return None


# The running Scheduler, for the module-level job function: a job store that keeps
# jobs in the database pickles their callable by reference and their arguments by
# value, so a job names its source by id and finds the scheduler here.
_current: Scheduler | None = None


def run_source_job(source_id: str) -> None:
    """The APScheduler job of one source (module-level, so it can be stored)."""
    scheduler = _current
    if scheduler is None:  # pragma: no cover - only if a job outlives its scheduler
        logger.warning("job for source %s fired with no scheduler running", source_id)
        return
    scheduler.run_source(source_id)


class StoppingExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """A thread pool that drops a job falling due once ``stop`` is set.

    APScheduler checks that it is running before it takes its job-store lock, then
    submits due jobs under that lock, and ``shutdown()`` closes the pool under the
    same lock. So a job that falls due just as shutdown begins is handed to a closed
    pool, and APScheduler logs the RuntimeError with a traceback. The stop event is
    set before ``shutdown()`` is called and this check runs under that lock, so no
    job reaches a closed pool.
    """

    def __init__(self, stop: threading.Event, max_workers: int) -> None:
        super().__init__(max_workers)
        self._stop = stop

    def submit_job(self, job: Job, run_times: list[datetime]) -> None:
        if self._stop.is_set():
            logger.debug("%s fell due while stopping: not run", job.name)
            return
        super().submit_job(job, run_times)


class Scheduler:
    """Runs each enabled source on its cadence until stopped, minding its health."""

    def __init__(
        self,
        sources: Sequence[SourceConfig],
        ingestor: Ingestor,
        settings: SchedulerSettings,
        on_run: Callable[[RunReport], None] | None = None,
    ) -> None:
        self.sources = {s.id: s for s in sources if s.enabled}
        self.ingestor = ingestor
        self.settings = settings
        self.on_run = on_run
        self.health = HealthStore(ingestor.store.engine)
        self._reported_dead: set[str] = set()
        # Runs in progress. APScheduler's shutdown(wait=True) holds its job-store lock
        # while it waits for running jobs, and a job that then reschedules itself
        # (modify_job takes that lock) would deadlock it; so shutdown waits for our
        # runs to end first.
        self._busy = 0
        self._idle = threading.Condition()
        self._apscheduler = BackgroundScheduler(
            # Jobs live in the database, so a restart finds each source's next slot
            # (with its jitter) where the last process left it.
            jobstores={
                "default": SQLAlchemyJobStore(engine=ingestor.store.engine, tablename=JOBS_TABLE)
            },
            executors={"default": StoppingExecutor(self.stop_event, settings.parallel_runs)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._apscheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)

    @property
    def stop_event(self) -> threading.Event:
        return self.ingestor.stop

    def start(self) -> None:
        """Add one job per source and start the scheduler's threads."""
        global _current
        _current = self
        self.health.revive_changed({s.id: s.url for s in self.sources.values()})
        # Paused: the stored jobs are read and replaced before any of them fires.
        self._apscheduler.start(paused=True)
        stored = {job.id: job for job in self._apscheduler.get_jobs()}
        for job_id in stored.keys() - self.sources.keys():
            logger.info("source %s is no longer configured: unscheduled", job_id)
            self._apscheduler.remove_job(job_id)
        now = datetime.now(UTC)
        for source in self.sources.values():
            trigger = trigger_for(source)
            due = self.due(source, now)
            kept = stored.get(source.id)
            if due is None:
                self._report_dead(source.id)
                # Still on its cadence, so a revival from another process is seen.
                first = now + cadence(source)
            elif (
                kept is not None
                and kept.next_run_time is not None
                and str(kept.trigger) == str(trigger)
                and not self._interrupted(source.id)
            ):
                # The slot the last process chose (with its jitter), unless the source
                # became due sooner meanwhile (revived, say); a crash runs it now.
                first = min(kept.next_run_time, due + duration(self.settings.jitter))
            else:
                first = due + self._jitter()
            self._apscheduler.add_job(
                run_source_job,
                trigger,
                args=[source.id],
                id=source.id,
                name=f"source {source.id}",
                next_run_time=first,
                replace_existing=True,
            )
            logger.info(
                "scheduled source %s (%s), first run %s", source.id, source.kind, first.isoformat()
            )
        self._apscheduler.resume()

    def wait(self, poll: float = 0.5) -> None:
        """Block until the stop event is set (by a signal, or by ``on_run``)."""
        while not self.stop_event.wait(poll):
            pass

    def run_until_stopped(self) -> None:
        """Start, block until the stop event is set, then shut down cleanly."""
        self.start()
        try:
            self.wait()
        finally:
            logger.info("stopping: the current batch is being stored")
            self.shutdown()

    def shutdown(self) -> None:
        """Stop scheduling; the running batch finishes and is stored first."""
        global _current
        self.stop_event.set()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)
        if self._apscheduler.running:
            self._apscheduler.shutdown(wait=True)
        if _current is self:
            _current = None

    def unschedule(self, source_id: str) -> None:
        """Stop scheduling one source (a run in progress finishes)."""
        self.sources.pop(source_id, None)
        if self._apscheduler.get_job(source_id) is not None:
            self._apscheduler.remove_job(source_id)

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._apscheduler.get_jobs()}

    def due(self, source: SourceConfig, now: datetime) -> datetime | None:
        """When ``source`` is next due, from what the database says (see ``next_poll``)."""
        store = self.ingestor.store
        last = store.last_run(source.id)
        if last is not None and last.status in ("interrupted", "running"):
            # Cut short by a crash or a stop: finish the work now, not a slot later.
            last = None
        return next_poll(
            source,
            state=store.fetch_state(source.id),
            health=self.health.health(source.id),
            last_started=last.started_at if last else None,
            settings=self.settings,
            now=now,
        )

    def _interrupted(self, source_id: str) -> bool:
        last = self.ingestor.store.last_run(source_id)
        return last is not None and last.status in ("interrupted", "running")

    def run_source(self, source_id: str) -> None:
        """One slot of a source: run it if it is due (alive, not backing off), then
        set its next slot from its health."""
        with self._idle:
            if self.stop_event.is_set():
                return
            self._busy += 1
        try:
            self._run_slot(source_id)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _run_slot(self, source_id: str) -> None:
        source = self.sources.get(source_id)
        if source is None or self.stop_event.is_set():
            return
        now = datetime.now(UTC)
        due = self.due(source, now)
        if due is None:
            self._report_dead(source_id)
            return
        self._reported_dead.discard(source_id)
        if due > now + _EARLY:
            logger.debug("source %s is backing off until %s", source_id, due.isoformat())
            self._reschedule(source_id, due)
            return
        for report in self.ingestor.run([source]):
            self._after_run(source, report)
            if self.on_run is not None:
                self.on_run(report)

    def _after_run(self, source: SourceConfig, report: RunReport) -> None:
        if report.status == "interrupted" or self.stop_event.is_set():
            return
        if source.kind == "feed":
            reason = feed_failure(report)
            health = self.health.record_poll_outcome(
                source.id,
                url=source.url,
                reason=reason,
                at=datetime.now(UTC),
                dead_after_not_found=self.settings.dead_after_not_found,
            )
            if reason is None and report.status == "ok" and not source.cron:
                interval = adapt_interval(
                    cadence(source, health), source.every, report.counts.new, self.settings
                )
                if interval != cadence(source, health):
                    logger.debug("source %s: poll interval now %s", source.id, interval)
                    self.health.set_poll_interval(
                        source.id, interval.total_seconds(), at=datetime.now(UTC)
                    )
        due = self.due(source, datetime.now(UTC))
        if due is None:
            self._report_dead(source.id)
        else:
            self._reschedule(source.id, due + self._jitter())

    def _reschedule(self, source_id: str, when: datetime) -> None:
        if self._apscheduler.get_job(source_id) is not None:
            self._apscheduler.modify_job(source_id, next_run_time=when)

    def _jitter(self) -> timedelta:
        limit = duration(self.settings.jitter).total_seconds()
        return timedelta(seconds=random.uniform(0, limit)) if limit else timedelta(0)

    def _report_dead(self, source_id: str) -> None:
        """Say once per process, loudly, that a dead source is not being polled."""
        if source_id in self._reported_dead:
            return
        self._reported_dead.add(source_id)
        health = self.health.health(source_id)
        logger.warning(
            "source %s is dead since %s (%s): not polled; revive it with "
            "'newsingest revive %s' or by configuring a new url",
            source_id,
            health.dead_at.isoformat() if health.dead_at else "?",
            health.dead_reason,
            source_id,
        )

    def _job_failed(self, event: JobExecutionEvent) -> None:
        # An unexpected exception is a bug: say so loudly, but keep the other
        # sources on their cadence (the run row already records the failure).
        logger.error("job %s crashed: %r\n%s", event.job_id, event.exception, event.traceback)


def serve(
    settings: Settings,
    stop: threading.Event,
    on_run: Callable[[RunReport], None] | None = None,
) -> int:
    """The long-running main job: lead (or stand by until we may), then schedule every
    source until ``stop``; the exit status (1 if leadership was lost)."""
    from newsingest.app import open_app
    from storage.leader import leadership

    lease = duration(settings.scheduler.leader_lease).total_seconds()
    with leadership(
        settings.database, stop, lease_seconds=lease, poll_seconds=min(1.0, lease / 5)
    ) as lead:
        if lead is None:
            logger.info("stopped while standing by")
            return 0
        # Only the leader opens the app: it marks runs left 'running' as interrupted,
        # which a standby must not do to the leader's runs.
        with open_app(settings, stop, recover_runs=True) as app:
            Scheduler(
                settings.sources, app.ingestor, settings.scheduler, on_run
            ).run_until_stopped()
        return 1 if lead.lost.is_set() else 0


def main() -> None:
    """``python scheduler.py [--config FILE]``: the long-running main job."""
    import sys

    from newsingest.cli import main as cli_main

    cli_main([*sys.argv[1:], "run"])


if __name__ == "__main__":
    main()
