"""Turn what Scrapy hands back (a response, or an exception) into fetch records.

Plain functions over plain values, so each rule is unit-testable without a crawl.
The reason codes are those of :class:`~crawler.records.FetchFailure`.

Scrapy reports three outcomes only through the message of an ``IgnoreRequest``
(robots.txt, too many redirects, decompressed size cap), so those are told apart
by message; the integration tests in ``tests/crawler/test_fetch.py`` pin the
messages of the installed Scrapy version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors
from twisted.web.client import ResponseFailed

from crawler.records import FetchedPage, FetchFailure, FetchResult, PageRequest

__all__ = [
    "HTML_TYPES",
    "classify_exception",
    "failure_from_exception",
    "flatten_headers",
    "is_html",
    "result_from_response",
]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Order matters: TCPTimedOutError is a ConnectError, DNSLookupError an IOError.
_TIMEOUT = (
    DownloadTimeoutError,
    twisted_errors.TimeoutError,
    twisted_errors.TCPTimedOutError,
    TimeoutError,
)
_DNS = (CannotResolveHostError, twisted_errors.DNSLookupError)
_CONNECTION = (
    DownloadConnectionRefusedError,
    DownloadFailedError,
    ResponseDataLossError,
    ResponseFailed,
    twisted_errors.ConnectError,
    twisted_errors.ConnectionLost,
    twisted_errors.ConnectionDone,
    ConnectionError,
)

_SNIFF_BYTES = 1024
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta")


def now_utc() -> datetime:
    """The current time, tz-aware UTC (records never hold naive datetimes)."""
    return datetime.now(UTC)


def is_html(content_type: str | None, body: bytes) -> bool:
    """Tell whether a response is an HTML page, sniffing the body when no type is given."""
    mime = (content_type or "").partition(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(marker in head for marker in _HTML_MARKERS)


def flatten_headers(headers: Mapping[bytes, Iterable[bytes]]) -> dict[str, str]:
    """Scrapy's multi-valued bytes headers as one lower-case str → str dict.

    Repeated headers are joined with ``", "`` as RFC 9110 allows; bytes are
    decoded as Latin-1, which never fails and keeps every byte.
    """
    return {
        name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
        for name, values in headers.items()
    }


def result_from_response(
    request: PageRequest,
    *,
    final_url: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    encoding: str | None,
    fetched_at: datetime | None = None,
) -> FetchResult:
    """A FetchedPage for a 2xx HTML response, else FetchFailure ``not_html``.

    ``headers`` are already flattened (:func:`flatten_headers`).
    """
    fetched_at = fetched_at or now_utc()
    content_type = headers.get("content-type")
    if not is_html(content_type, body):
        return FetchFailure(
            url=request.url,
            source=request.source,
            reason="not_html",
            detail=content_type or "no Content-Type and not HTML",
            status=status,
            fetched_at=fetched_at,
            hint=request.hint,
        )
    return FetchedPage(
        url=request.url,
        final_url=final_url,
        source=request.source,
        status=status,
        headers=headers,
        body=body,
        encoding=encoding,
        fetched_at=fetched_at,
        hint=request.hint,
    )


def classify_exception(exc: BaseException) -> tuple[str, int | None, str]:
    """The (reason, HTTP status or None, detail) of a failed download."""
    if isinstance(exc, HttpError):
        return _classify_http_error(exc)
    if isinstance(exc, IgnoreRequest):
        return _classify_ignored(exc), None, str(exc)
    if isinstance(exc, DownloadCancelledError):
        # Scrapy cancels a download only when it outgrows DOWNLOAD_MAXSIZE.
        return "too_large", None, str(exc) or "download cancelled at DOWNLOAD_MAXSIZE"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, ValueError) and "Missing scheme" in detail:
        # Our own URLs are checked before the crawl, so this is RedirectMiddleware
        # building a request for a Location such as javascript: or mailto:.
        return "bad_redirect", None, detail
    if isinstance(exc, _TIMEOUT):
        return "timeout", None, detail
    if isinstance(exc, _DNS):
        return "dns", None, detail
    if isinstance(exc, _CONNECTION):
        return "connection", None, detail
    return "error", None, f"{type(exc).__name__}: {exc}"


def _classify_http_error(exc: HttpError) -> tuple[str, int | None, str]:
    response = exc.response
    status = response.status
    location = response.headers.get(b"Location")
    if 300 <= status < 400 and location:
        # RedirectMiddleware follows every http(s) Location, so a 3xx that reaches
        # us points elsewhere (ftp:, javascript:, mailto:, ...).
        target = urljoin(response.url, location.decode("latin-1"))
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            return "bad_redirect", status, f"redirect to {target}"
    return f"http_{status}", status, f"HTTP {status} from {response.url}"


def _classify_ignored(exc: IgnoreRequest) -> str:
    message = str(exc)
    if "robots.txt" in message:
        return "robots_disallowed"
    if "max redirections" in message:
        return "redirect_loop"
    if "DOWNLOAD_MAXSIZE" in message or "max size" in message:
        return "too_large"
    return "error"


def failure_from_exception(
    request: PageRequest, exc: BaseException, *, fetched_at: datetime | None = None
) -> FetchFailure:
    """The FetchFailure record for a download that ended in ``exc``."""
    reason, status, detail = classify_exception(exc)
    return FetchFailure(
        url=request.url,
        source=request.source,
        reason=reason,
        detail=detail,
        status=status,
        fetched_at=fetched_at or now_utc(),
        hint=request.hint,
    )


def crashed(request: PageRequest, detail: str) -> FetchFailure:
    """The FetchFailure for a URL the crawler process never answered."""
    return FetchFailure(
        url=request.url,
        source=request.source,
        reason="crawler_crashed",
        detail=detail,
        status=None,
        fetched_at=now_utc(),
        hint=request.hint,
    )
