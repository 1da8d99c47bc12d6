"""Read a list of article URLs, one per line, for backfilling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.errors import BadURLError
from crawler.records import FeedEntry
from crawler.urls import canonical_url


@dataclass(frozen=True, slots=True, kw_only=True)
class BadLine:
    """A line of a URL list that is not a usable URL, with its line number."""

    line_no: int
    text: str
    why: str


def read_url_list(path: Path) -> Iterator[FeedEntry | BadLine]:
    """Stream a URL list: blank lines and ``#`` comments are skipped, bad lines reported.

    The file is read line by line, so a list of millions of URLs is never held whole.
    """
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line_no, raw in enumerate(lines, start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            try:
                yield FeedEntry(url=canonical_url(text))
            except BadURLError as exc:
                yield BadLine(line_no=line_no, text=text[:200], why=exc.why)
