"""Logging for the entry points (only they configure handlers)."""

from __future__ import annotations

import logging
import sys

# Scrapy and Twisted talk a lot at INFO; the run summary lines are ours.
_QUIET = (
    "scrapy",
    "twisted",
    "apscheduler.scheduler",
    "apscheduler.executors",
    "httpx",
    "trafilatura",
    "htmldate",
    "filelock",
    "alembic",
)


def setup_logging(level: str = "INFO") -> None:
    """One line per record on stderr: time, level, logger, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
