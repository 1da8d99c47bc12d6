"""Cadence: first run times after a restart, and the job options that stop overlaps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sources import SourceConfig
from scheduler import StoppingExecutor, first_run_time, trigger_for

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def feed(**kw: str) -> SourceConfig:
    return SourceConfig(id="s", kind="feed", url="http://127.0.0.1/feed", **kw)


def test_a_source_never_run_runs_now() -> None:
    assert first_run_time(feed(interval="1h"), None, NOW) == NOW


def test_an_interval_source_waits_for_its_next_slot() -> None:
    last = NOW - timedelta(minutes=20)
    assert first_run_time(feed(interval="1h"), last, NOW) == last + timedelta(hours=1)


def test_slots_missed_while_down_run_once_now() -> None:
    # Down for a day with an hourly cadence: one run now, not 24.
    assert first_run_time(feed(interval="1h"), NOW - timedelta(days=1), NOW) == NOW


def test_cron_source_missed_slot_runs_now_else_waits() -> None:
    source = feed(cron="0 * * * *")
    assert first_run_time(source, NOW - timedelta(hours=3), NOW) == NOW
    half_past = NOW + timedelta(minutes=30)
    last = half_past - timedelta(minutes=1)
    assert first_run_time(source, last, half_past) == NOW + timedelta(hours=1)


def test_triggers_follow_the_config() -> None:
    assert isinstance(trigger_for(feed(cron="*/5 * * * *")), CronTrigger)
    trigger = trigger_for(feed(interval="90s"))
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == timedelta(seconds=90)


def test_a_job_falling_due_as_the_scheduler_stops_is_dropped_not_an_error() -> None:
    # APScheduler can hand a job that fell due to the pool just after shutdown closed
    # it (its running check comes before its lock); that must not raise and log.
    stop = threading.Event()
    ran: list[int] = []
    apscheduler = BackgroundScheduler(timezone=UTC)
    apscheduler.start(paused=True)
    job = apscheduler.add_job(ran.append, args=[1], next_run_time=datetime.now(UTC))
    executor = StoppingExecutor(stop, 1)
    executor.start(apscheduler, "stopping")
    stop.set()
    executor.shutdown(wait=True)
    executor.submit_job(job, [datetime.now(UTC)])
    apscheduler.shutdown(wait=True)
    assert ran == []
