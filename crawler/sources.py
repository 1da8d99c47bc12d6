"""Configured sources: where to look, and on what cadence."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SourceKind = Literal["feed", "urls", "sitemap", "site", "files"]

# Letters, digits, '.', '_' and '-', starting with a letter or digit; at most 64.
SOURCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

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


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class SourceConfig(BaseModel):
    """One configured place to look.

    * ``feed``: an RSS, Atom or JSON feed at ``url``.
    * ``urls``: a file at ``path`` with one article URL per line.
    * ``sitemap``: a sitemap (or sitemap index, gzip or not) at ``url``; a site root
      or robots.txt URL finds the sitemaps robots.txt lists.
    * ``site``: a same-site crawl from ``url`` and ``start_urls``, following links
      up to ``max_depth`` and ``max_pages``; only pages that look like articles are
      stored.
    * ``files``: local archives under ``path`` (HTML, plain text, WARC).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SOURCE_ID_PATTERN)
    kind: SourceKind
    url: str | None = None  # feed, sitemap or site URL
    path: Path | None = None  # URL list (kind = urls); file or directory (kind = files)
    start_urls: list[str] = Field(default_factory=list)  # more start URLs (kind = site)
    # Regular expressions searched in each discovered URL (site and sitemap): a URL
    # must match one of ``allow`` (when given) and none of ``deny``.
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    max_depth: int = Field(2, ge=0)  # links followed from a start URL (kind = site)
    max_pages: int = Field(500, ge=1)  # pages fetched per run (kind = site)
    # Sitemap entries whose lastmod (or news publication date) is older than this
    # interval, or before ``lastmod_after``, are left out (kind = sitemap).
    max_age: str | None = None
    lastmod_after: datetime | None = None
    interval: str | None = None  # e.g. "15m"; default 1h when no cron is given
    cron: str | None = None  # crontab expression, e.g. "*/15 * * * *"
    enabled: bool = True
    max_articles: int | None = Field(None, ge=1)  # per run

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return value if value is None else _check_http_url(value)

    @field_validator("start_urls")
    @classmethod
    def _http_urls(cls, values: list[str]) -> list[str]:
        return [_check_http_url(value) for value in values]

    @field_validator("allow", "deny")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return values

    @field_validator("interval", "max_age")
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
        if self.kind in ("feed", "sitemap") and not self.url:
            raise ValueError(f"a {self.kind} source needs a url")
        if self.kind == "site" and not (self.url or self.start_urls):
            raise ValueError("a site source needs a url or start_urls")
        if self.kind == "files":
            if self.path is None:
                raise ValueError("a files source needs a path (a file or a directory)")
            if not self.path.exists():
                raise ValueError(f"path {str(self.path)!r} does not exist")
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
