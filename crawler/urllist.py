"""Read a list of article URLs, one per line, for backfilling.

The list is streamed line by line (from a file or any text stream, such as stdin), so
a list of millions of URLs is never held whole. Each line becomes a canonical URL or
a :class:`BadLine` carrying its line number and why it is unusable; ``#`` comments
are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.errors import BadURLError
from crawler.records import FeedEntry
from crawler.urls import canonical_url

__all__ = ["BadLine", "ListedURL", "URLListReader", "count_lines", "read_url_list"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BadLine:
    """A line of a URL list that is not a usable URL, with its line number."""

    line_no: int
    text: str  # the line as read, stripped, at most 200 characters
    why: str  # e.g. "empty", "not an absolute URL", "scheme 'ftp' is not http or https"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedURL:
    """A usable line of a URL list: its canonical URL and its line number."""

    line_no: int
    url: str  # canonical, absolute http(s)


class URLListReader:
    """Streams the lines of a URL list as :class:`ListedURL` and :class:`BadLine` items.

    ``start_after`` skips that many lines without parsing them (resuming a list part
    way through). ``blank_is_bad`` reports blank lines as bad (``why="empty"``)
    instead of skipping them. ``lines_read`` is the number of the last line read so
    far, comments and bad lines included, so a caller can record how far it got.
    """

    def __init__(
        self, lines: Iterable[str], *, start_after: int = 0, blank_is_bad: bool = False
    ) -> None:
        self._lines = lines
        self.start_after = start_after
        self._blank_is_bad = blank_is_bad
        self.lines_read = 0

    def __iter__(self) -> Iterator[ListedURL | BadLine]:
        for line_no, raw in enumerate(self._lines, start=1):
            self.lines_read = line_no
            if line_no <= self.start_after:
                continue  # resuming: no parsing, no canonicalisation
            text = raw.strip()
            if text.startswith("#"):
                continue
            if not text:
                if self._blank_is_bad:
                    yield BadLine(line_no=line_no, text="", why="empty")
                continue
            try:
                yield ListedURL(line_no=line_no, url=canonical_url(text))
            except BadURLError as exc:
                yield BadLine(line_no=line_no, text=text[:200], why=exc.why)


def read_url_list(path: Path) -> Iterator[FeedEntry | BadLine]:
    """Stream a URL list file: blank lines and ``#`` comments are skipped, bad lines reported.

    The file is read line by line, so a list of millions of URLs is never held whole.
    """
    with path.open(encoding="utf-8-sig", errors="replace") as lines:
        for item in URLListReader(lines):
            yield FeedEntry(url=item.url) if isinstance(item, ListedURL) else item


def count_lines(path: Path, block_size: int = 1 << 20) -> int:
    """Count the lines of a file by counting newlines in binary blocks (cheap: no decoding).

    A last line without a final newline counts too.
    """
    count = 0
    last = b"\n"
    with path.open("rb") as data:
        while block := data.read(block_size):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")
