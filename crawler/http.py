"""Small capped GETs for feeds, sitemaps and robots.txt: one conditional download.

``download`` fetches one URL with httpx, streamed, with an overall deadline and a
cap on the *decompressed* size: gzip and deflate are inflated here, step by step,
so a compression bomb never allocates more than the cap. ``gunzip_capped`` does the
same for a body that is itself a gzip file (``sitemap.xml.gz``).

Errors are the caller's own kind (``FeedError``, ``SitemapError``): the caller
passes the error class, and httpx's exceptions are converted where they enter.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx

from crawler.errors import CrawlerError
from crawler.settings import CrawlSettings

__all__ = ["Download", "ErrorFactory", "download", "gunzip_capped", "is_gzip"]

_GZIP_MAGIC = b"\x1f\x8b"


class ErrorFactory(Protocol):
    """An error class taking ``(url, reason, detail)``, such as ``FeedError``."""

    def __call__(self, url: str, reason: str, detail: str = ...) -> CrawlerError: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Download:
    """One answered GET: a 2xx body, or a 304 without one."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body: bytes = b""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def download(
    url: str,
    *,
    settings: CrawlSettings,
    max_bytes: int,
    error: ErrorFactory,
    accept: str = "*/*",
    etag: str | None = None,
    last_modified: str | None = None,
    client: httpx.Client | None = None,
) -> Download:
    """GET ``url`` (conditionally, given validators); a 304 comes back without a body.

    Raises ``error(url, reason, detail)`` with reason ``http_<status>``, ``timeout``,
    ``connection``, ``too_large``, ``redirect_loop``, ``bad_redirect``, ``bad_url``
    or ``malformed`` (a broken compressed body). An injected ``client`` keeps its own
    ``max_redirects`` and is not closed.
    """
    headers = {
        "User-Agent": settings.user_agent,
        # Only encodings _inflater can cap; httpx would add br/zstd otherwise.
        "Accept-Encoding": "gzip, deflate",
        "Accept": accept,
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(max_redirects=settings.max_redirects)
    # httpx's timeout bounds each read, not the whole answer: a server trickling one
    # byte per second would hold the request for as long as it likes. This bounds it all.
    deadline = time.monotonic() + settings.timeout
    try:
        with (
            _converted_errors(url, error),
            http.stream(
                "GET", url, headers=headers, timeout=settings.timeout, follow_redirects=True
            ) as response,
        ):
            if response.status_code == 304:
                return Download(
                    url=url,
                    final_url=str(response.url),
                    status=304,
                    etag=response.headers.get("etag") or etag,
                    last_modified=response.headers.get("last-modified") or last_modified,
                )
            if not 200 <= response.status_code < 300:
                raise error(url, f"http_{response.status_code}")
            body = _read_capped(response, url, max_bytes, deadline, error)
            return Download(
                url=url,
                final_url=str(response.url),
                status=response.status_code,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                body=body,
            )
    finally:
        if own_client:
            http.close()


def is_gzip(body: bytes) -> bool:
    """Tell whether ``body`` is a gzip file (by its magic bytes)."""
    return body[:2] == _GZIP_MAGIC


def gunzip_capped(body: bytes, url: str, max_bytes: int, error: ErrorFactory) -> bytes:
    """Inflate a gzip file, failing with reason ``too_large`` beyond ``max_bytes``."""
    inflater = _Inflater(url, error)
    out = inflater.decompress(body, max_bytes + 1)
    if len(out) <= max_bytes:
        out += inflater.flush()
    if len(out) > max_bytes:
        raise error(url, "too_large", f"inflates to more than {max_bytes} bytes")
    return out


@contextmanager
def _converted_errors(url: str, error: ErrorFactory) -> Iterator[None]:
    """Turn httpx errors into the caller's error where they enter."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise error(url, _httpx_reason(exc), str(exc) or type(exc).__name__) from exc


def _httpx_reason(exc: Exception) -> str:
    """The reason code for an httpx exception."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TooManyRedirects):
        return "redirect_loop"
    if isinstance(exc, httpx.UnsupportedProtocol):
        # The configured URL was checked at load time, so this is a redirect to ftp: etc.
        return "bad_redirect"
    if isinstance(exc, httpx.InvalidURL):
        return "bad_url"
    if isinstance(exc, httpx.DecodingError):
        return "malformed"
    if isinstance(exc, httpx.TransportError):
        return "connection"
    return "error"


def _read_capped(
    response: httpx.Response, url: str, cap: int, deadline: float, error: ErrorFactory
) -> bytes:
    """Read the body, inflating gzip/deflate ourselves, failing beyond ``cap`` bytes
    or past ``deadline`` (``time.monotonic()``)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise error(url, "too_large", f"Content-Length {declared} > {cap} bytes")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = _inflater(encoding, url, error)
    out = bytearray()
    for chunk in response.iter_raw():
        if inflater is None:
            out += chunk
        else:
            # max_length bounds each step, so a 1000:1 bomb never allocates past the cap.
            out += inflater.decompress(chunk, cap - len(out) + 1)
        if len(out) > cap:
            raise error(url, "too_large", f"body larger than {cap} bytes")
        if time.monotonic() > deadline:
            raise error(url, "timeout", "the body did not arrive within the timeout")
    if inflater is not None:
        out += inflater.flush()
        if len(out) > cap:
            raise error(url, "too_large", f"body larger than {cap} bytes")
    return bytes(out)


def _inflater(encoding: str, url: str, error: ErrorFactory) -> _Inflater | None:
    """A capped decompressor for the Content-Encoding, or None for identity."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater(url, error)
    raise error(url, "malformed", f"unsupported Content-Encoding {encoding!r}")


class _Inflater:
    """A gzip/zlib decompressor whose errors are the caller's errors."""

    def __init__(self, url: str, error: ErrorFactory) -> None:
        # 32 + MAX_WBITS: zlib detects a gzip or a zlib header by itself.
        self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._url = url
        self._error = error

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Inflate ``data``, producing at most ``max_length`` bytes (the caller then stops)."""
        try:
            return self._zlib.decompress(data, max_length)
        except zlib.error as exc:
            raise self._error(self._url, "malformed", f"bad compressed body: {exc}") from exc

    def flush(self) -> bytes:
        """What is left once the input has ended."""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise self._error(self._url, "malformed", f"bad compressed body: {exc}") from exc
