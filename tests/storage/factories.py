"""Small builders for the records storage takes, with sensible defaults."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Literal

from pipeline.records import Article, Failure
from storage.records import SourceRecord

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

SOURCES = [
    SourceRecord(id="alpha", kind="feed", url="http://127.0.0.1/alpha.xml"),
    SourceRecord(id="beta", kind="sitemap", url="http://127.0.0.1/sitemap.xml"),
]


def article(
    url: str,
    *,
    text: str = "A body of text.",
    source: str = "alpha",
    title: str = "A title",
    at: datetime = T0,
    published_at: datetime | None = T0 - timedelta(hours=1),
) -> Article:
    """An Article whose content_hash follows its text, as the pipeline's would."""
    return Article(
        url=url,
        final_url=url + "?from=feed",
        source=source,
        title=title,
        authors=("Ada Lovelace", "Grace Hopper"),
        published_at=published_at,
        fetched_at=at,
        language="en",
        text=text,
        raw_text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def failure(
    url: str,
    reason: str = "http_500",
    *,
    source: str = "alpha",
    at: datetime = T0,
    status: int | None = 500,
    stage: Literal["fetch", "extract"] = "fetch",
) -> Failure:
    """A Failure with the given reason."""
    return Failure(
        url=url,
        source=source,
        stage=stage,
        reason=reason,
        detail=f"{reason} while testing",
        status=status,
        at=at,
    )
