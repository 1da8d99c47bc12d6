"""Frozen records the pipeline produces for storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crawler.records import SKIP_REASONS


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """One canonical URL's extracted and cleaned article."""

    url: str  # canonical: the page's rel=canonical / og:url within its site, else as asked
    final_url: str  # where the fetch ended, after redirects
    source: str  # the configured source's id
    title: str
    authors: tuple[str, ...]
    published_at: datetime | None  # tz-aware UTC; None only when no date was found
    fetched_at: datetime  # tz-aware UTC
    language: str | None  # ISO 639-1 where known
    text: str  # cleaned body text, paragraphs separated by "\n"
    raw_text: str  # the extraction before cleaning, kept so cleaning can be re-run
    content_hash: str  # sha256 of the normalised text
    # The other URLs this article was met under (the URL asked for, the one a redirect
    # ended on), canonicalised; storage keeps them so a variant never makes a second
    # document.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A URL that did not become an article, and why.

    ``stage`` says where it failed; ``reason`` is a short code such as ``http_404``,
    ``timeout``, ``not_html``, ``robots_disallowed`` (fetch) or ``no_main_text``,
    ``extraction_error`` (extract).
    """

    url: str
    source: str
    stage: Literal["fetch", "extract"]
    reason: str
    detail: str
    status: int | None
    at: datetime  # tz-aware UTC

    @property
    def skipped(self) -> bool:
        """A deliberate skip (robots.txt, not HTML) rather than something going wrong."""
        return self.reason in SKIP_REASONS


Outcome = Article | Failure
