"""Configured sources: where to look, and on what cadence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SourceKind = Literal["feed", "urls"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """Parse an interval such as ``90s``, ``15m``, ``2h`` or ``1d``."""
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"{text!r} is not an interval like '30s', '15m', '2h' or '1d'")
    seconds = float(text[:-1]) * _UNITS[text[-1]]
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be positive")
    return timedelta(seconds=seconds)


class SourceConfig(BaseModel):
    """One configured place to look: a feed, or a list of URLs to backfill."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    kind: SourceKind
    url: str | None = None  # feed URL (kind = feed)
    path: Path | None = None  # file with one URL per line (kind = urls)
    interval: str | None = None  # e.g. "15m"; default 1h when no cron is given
    cron: str | None = None  # crontab expression, e.g. "*/15 * * * *"
    enabled: bool = True
    max_articles: int | None = Field(None, ge=1)  # per run

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a crontab expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.interval and self.cron:
            raise ValueError("give either interval or cron, not both")
        if self.kind == "feed" and not self.url:
            raise ValueError("a feed source needs a url")
        if self.kind == "urls":
            if self.path is None:
                raise ValueError("a urls source needs a path (one URL per line)")
            if not self.path.is_file():
                raise ValueError(f"URL list {str(self.path)!r} does not exist")
        return self

    @property
    def every(self) -> timedelta:
        """The polling interval (1h when neither interval nor cron is set)."""
        return parse_interval(self.interval or "1h")
