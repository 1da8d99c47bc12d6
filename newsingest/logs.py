"""Logging for the entry points (only they configure handlers)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

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


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the record's
    ``fields`` (``extra={"fields": {...}}``, e.g. a run's counts) as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str = "INFO", log_format: str = "text") -> None:
    """One line per record on stderr: time, level, logger, message (or JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
