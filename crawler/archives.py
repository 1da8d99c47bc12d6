"""Read local archives into fetched pages: HTML files, plain-text files, WARC and ARC files.

``read_archives`` walks files and directories (recursively, in sorted order, so two
imports of one tree see the same sequence) and yields, per page found, the same
``FetchedPage`` the fetcher would have produced, so local pages go through the same
extraction, cleaning and dedup as fetched ones. What is left out is said:

* ``ArchiveSkip``: a file of a kind we do not read, or a WARC record that is not an
  HTML article (a request, an image, a 404, a revisit), with a short reason;
* ``ArchiveError``: a file that could not be read, or not to its end (a truncated or
  corrupt WARC), naming the file. The records before the damage still count, and
  the other files go on.

A local file's URL is its ``file://`` URI (``file_url``): stable for one path, and
never mistaken for a web page. A page that declares its web URL (rel=canonical,
og:url) is stored under that instead (``pipeline.extract``). A WARC record's URL is
its WARC-Target-URI, canonicalised like any discovered URL.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from w3lib.encoding import html_to_unicode, read_bom
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.errors import BadURLError
from crawler.records import FetchedPage
from crawler.urls import canonical_url

__all__ = [
    "HTML_SUFFIXES",
    "TEXT_SUFFIXES",
    "WARC_SUFFIXES",
    "ArchiveError",
    "ArchiveItem",
    "ArchiveSkip",
    "archive_files",
    "file_url",
    "read_archives",
]

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt",)
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveSkip:
    """A file or WARC record deliberately left out, and why.

    Reasons: ``unsupported_file`` (not HTML, text or WARC by its name), ``not_html``,
    ``http_<status>`` (a non-2xx response), ``revisit``, ``bad_url``, ``too_large``.
    """

    path: Path
    reason: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveError:
    """A file that could not be read (to its end), and why: ``unreadable_file`` or
    ``bad_archive``."""

    path: Path
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


ArchiveItem = FetchedPage | ArchiveSkip | ArchiveError


def file_url(path: Path) -> str:
    """The URL a local file is known by: the ``file://`` URI of its resolved path."""
    return path.resolve().as_uri()


def archive_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Each file named, and every file under each directory named, in sorted order.

    Hidden files and directories (a leading dot) inside a directory are left out;
    symbolic links to directories are not followed, so a link loop cannot trap us.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(root) / name


def read_archives(
    paths: Iterable[Path], source: str, *, max_bytes: int = 10_000_000
) -> Iterator[ArchiveItem]:
    """Every page in the files and directories ``paths``, as ``source``'s pages.

    ``max_bytes`` caps one page (file or WARC record), as the fetcher caps a download.
    """
    for path in archive_files(paths):
        yield from read_file(path, source, max_bytes=max_bytes)


def read_file(path: Path, source: str, *, max_bytes: int = 10_000_000) -> Iterator[ArchiveItem]:
    """The pages in one file, chosen by its name: HTML, plain text or WARC/ARC."""
    name = path.name.lower()
    if name.endswith(WARC_SUFFIXES):
        yield from _warc_pages(path, source, max_bytes)
    elif name.endswith(HTML_SUFFIXES) or name.endswith(TEXT_SUFFIXES):
        yield _file_page(path, source, max_bytes, html=name.endswith(HTML_SUFFIXES))
    else:
        yield ArchiveSkip(
            path=path,
            reason="unsupported_file",
            detail="not an HTML (.html, .htm), text (.txt) or WARC (.warc, .warc.gz) file",
        )


def _file_page(path: Path, source: str, max_bytes: int, *, html: bool) -> ArchiveItem:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return ArchiveSkip(
                path=path, reason="too_large", detail=f"{size} bytes (> {max_bytes})"
            )
        body = path.read_bytes()
    except OSError as exc:
        return ArchiveError(
            path=path, reason="unreadable_file", detail=f"cannot read it ({exc.strerror})"
        )
    url = file_url(path)
    kind = "text/html" if html else "text/plain"
    encoding = html_to_unicode(None, body)[0] if html else text_encoding(body)
    return FetchedPage(
        url=url,
        final_url=url,
        source=source,
        status=200,
        headers={"content-type": f"{kind}; charset={encoding}"},
        body=body,
        encoding=encoding,
        # When we read it: a file's mtime says when it was written, not when the
        # article was seen, and is often the time it was copied.
        fetched_at=datetime.now(UTC),
    )


def text_encoding(body: bytes) -> str:
    """The encoding of a plain-text file: its byte-order mark, else UTF-8 if it
    decodes as such, else Windows-1252 (which decodes any byte)."""
    bom, _ = read_bom(body)
    if bom:
        return bom
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


# Errors warcio, gzip and the file system raise on a damaged archive. warcio's
# header parser also trips over a header cut in the middle (a missing
# WARC-Target-URI ends in an AttributeError on None, a short status line in an
# IndexError): in a file that began as a WARC, that is damage too.
_DAMAGE = (
    ArchiveLoadFailed,
    OSError,
    EOFError,
    zlib.error,
    ValueError,
    AttributeError,
    IndexError,
    KeyError,
    TypeError,
)
# How a WARC file and an ARC file begin (after gunzip).
_MAGIC = (b"WARC/", b"filedesc://")


class _ArchiveIterator(ArchiveIterator):  # type: ignore[misc]
    """warcio's reader, made to notice a file cut short.

    warcio ends quietly where a truncated file ends, and the last record comes out
    shorter than its Content-Length says; here that raises ``ArchiveLoadFailed``, as
    does a gzip member without its end. warcio's own warning on stderr about a record
    not followed by a blank line is silenced: the damage is reported as an
    ``ArchiveError`` naming the file.
    """

    INC_RECORD = ""

    def read_to_end(self, record: Any = None) -> Any:
        current = self.record
        if current is not None and not self.member_info:
            while current.raw_stream.read(65536):
                pass
            if getattr(current.raw_stream, "limit", 0) > 0:
                raise ArchiveLoadFailed("a record ends before its Content-Length: cut short")
        return super().read_to_end(record)

    def close(self) -> None:
        decompressor = self.reader.decompressor if self.reader is not None else None
        cut = decompressor is not None and not getattr(decompressor, "eof", True)
        super().close()
        if cut:
            raise ArchiveLoadFailed("the last gzip member has no end: cut short")


def _starts_like_an_archive(stream: IO[bytes]) -> bool:
    """Whether the (possibly gzipped) file begins with a WARC or ARC header.

    warcio reads almost any text as ARC records, so a file that is not an archive
    at all must be told apart before it is given to warcio.
    """
    head = stream.read(2)
    stream.seek(0)
    try:
        if head == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=stream) as unzipped:
                head = unzipped.read(16)
        else:
            head = stream.read(16)
    except (OSError, EOFError, zlib.error):
        return False
    finally:
        stream.seek(0)
    return head.startswith(_MAGIC)


def _warc_pages(path: Path, source: str, max_bytes: int) -> Iterator[ArchiveItem]:
    """The HTML responses in a WARC (or ARC) file; a damaged file ends with an error."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield ArchiveError(
            path=path, reason="unreadable_file", detail=f"cannot read it ({exc.strerror})"
        )
        return
    records = 0
    with stream:
        if not _starts_like_an_archive(stream):
            yield ArchiveError(
                path=path,
                reason="bad_archive",
                detail="not a WARC or ARC file (it does not begin with a WARC/1.x header)",
            )
            return
        try:
            for record in _ArchiveIterator(stream, arc2warc=True):
                item = _warc_item(record, path, source, max_bytes)
                if item is not None:
                    records += 1
                    yield item
        except _DAMAGE as exc:
            where = f"after {records} records" if records else "at its start"
            # warcio's messages run over several lines; the report wants one.
            why = " ".join(str(exc).split())[:300]
            yield ArchiveError(
                path=path,
                reason="bad_archive",
                detail=f"damaged {where}, the rest of it is skipped ({type(exc).__name__}: {why})",
            )


def _warc_item(record: Any, path: Path, source: str, max_bytes: int) -> ArchiveItem | None:
    """One WARC record as a page or a skip; None for records that describe no page
    (warcinfo, request, metadata)."""
    kind = record.rec_type
    if kind not in ("response", "resource", "revisit"):
        return None
    target = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    if kind == "revisit":
        return ArchiveSkip(path=path, reason="revisit", detail=f"{target}: a revisit record")
    try:
        url = canonical_url(target)
    except BadURLError as exc:
        return ArchiveSkip(path=path, reason="bad_url", detail=str(exc))
    if kind == "response" and record.http_headers is not None:
        try:
            status = int(record.http_headers.get_statuscode() or 0)
        except ValueError:
            status = 0
        headers = {k.lower(): v for k, v in record.http_headers.headers}
    else:  # a resource record (or an HTTP-less response): the WARC header types it
        status = 200
        headers = {"content-type": record.rec_headers.get_header("Content-Type") or ""}
    if not 200 <= status < 300:
        return ArchiveSkip(path=path, reason=f"http_{status}", detail=f"{url}: status {status}")
    content_type = headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() not in _HTML_TYPES:
        return ArchiveSkip(
            path=path, reason="not_html", detail=f"{url}: {content_type or 'no content type'}"
        )
    # content_stream undoes the chunked transfer and gzip/deflate content encodings.
    body = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        return ArchiveSkip(path=path, reason="too_large", detail=f"{url}: over {max_bytes} bytes")
    return FetchedPage(
        url=url,
        final_url=url,
        source=source,
        status=status,
        headers=headers,
        body=body,
        encoding=html_to_unicode(content_type, body)[0],
        fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
    )


def _warc_date(value: str | None) -> datetime:
    """WARC-Date (ISO 8601, UTC) as a tz-aware datetime; now when absent or malformed."""
    try:
        parsed = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
