"""The plain functions that turn Scrapy's outcomes into records, and the crawl settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Headers, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_errors

from crawler.fetch import default_idle_timeout
from crawler.outcomes import (
    classify_exception,
    failure_from_exception,
    flatten_headers,
    is_html,
    result_from_response,
)
from crawler.records import FeedEntry, FetchedPage, FetchFailure, PageRequest
from crawler.settings import CrawlSettings
from crawler.spider import scrapy_settings

REQUEST = PageRequest(url="https://ex.com/a", source="src", hint=FeedEntry(url="https://ex.com/a"))
WHEN = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html; charset=utf-8", b"", True),
        ("TEXT/HTML", b"", True),
        ("application/xhtml+xml", b"", True),
        ("application/pdf", b"<html>", False),
        ("application/json", b"{}", False),
        (None, b"\xef\xbb\xbf  <!DOCTYPE html><html>", True),
        (None, b"<html lang=en><p>x", True),
        ("", b"\n<head><title>x</title>", True),
        (None, b"%PDF-1.4", False),
        (None, b"", False),
    ],
)
def test_is_html(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected


def test_flatten_headers_lower_cases_and_joins() -> None:
    headers = Headers({"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]})
    assert flatten_headers(headers) == {"content-type": "text/html", "set-cookie": "a=1, b=2"}


def test_html_response_becomes_a_page() -> None:
    page = result_from_response(
        REQUEST,
        final_url="https://ex.com/b",
        status=200,
        headers={"content-type": "text/html"},
        body=b"<html>",
        encoding="utf-8",
        fetched_at=WHEN,
    )
    assert page == FetchedPage(
        url="https://ex.com/a",
        final_url="https://ex.com/b",
        source="src",
        status=200,
        headers={"content-type": "text/html"},
        body=b"<html>",
        encoding="utf-8",
        fetched_at=WHEN,
        hint=REQUEST.hint,
    )


def test_non_html_response_becomes_not_html() -> None:
    failure = result_from_response(
        REQUEST,
        final_url=REQUEST.url,
        status=200,
        headers={"content-type": "application/pdf"},
        body=b"%PDF",
        encoding=None,
    )
    assert isinstance(failure, FetchFailure)
    assert (failure.reason, failure.status, failure.detail) == ("not_html", 200, "application/pdf")
    assert failure.hint == REQUEST.hint


def _http_error(status: int, headers: dict[str, str] | None = None) -> HttpError:
    response = Response("https://ex.com/a", status=status, headers=headers)
    return HttpError(response, "Ignoring non-200 response")


@pytest.mark.parametrize(
    ("exc", "reason", "status"),
    [
        (_http_error(404), "http_404", 404),
        (_http_error(503), "http_503", 503),
        (_http_error(302, {"Location": "ftp://ex.com/file"}), "bad_redirect", 302),
        (_http_error(302, {"Location": "mailto:x@ex.com"}), "bad_redirect", 302),
        (_http_error(304), "http_304", 304),
        (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed", None),
        (IgnoreRequest("max redirections reached"), "redirect_loop", None),
        (
            IgnoreRequest(
                "Ignored response <200 https://ex.com/a> because its body (10 B "
                "compressed, 2000 B decompressed so far) exceeded DOWNLOAD_MAXSIZE "
                "(1000 B) during decompression."
            ),
            "too_large",
            None,
        ),
        (IgnoreRequest("something else"), "error", None),
        (DownloadCancelledError(), "too_large", None),
        (DownloadTimeoutError("took longer than 1.0 seconds"), "timeout", None),
        (twisted_errors.TimeoutError(), "timeout", None),  # type: ignore[no-untyped-call]
        (twisted_errors.TCPTimedOutError(), "timeout", None),  # type: ignore[no-untyped-call]
        (CannotResolveHostError("no such host"), "dns", None),
        (twisted_errors.DNSLookupError("no such host"), "dns", None),
        (DownloadConnectionRefusedError("refused"), "connection", None),
        (
            twisted_errors.ConnectionRefusedError(),  # type: ignore[no-untyped-call]
            "connection",
            None,
        ),
        (twisted_errors.ConnectionLost(), "connection", None),
        (ResponseDataLossError(), "connection", None),
        (ConnectionResetError(), "connection", None),
        (ValueError("surprise"), "error", None),
    ],
)
def test_classify_exception(exc: BaseException, reason: str, status: int | None) -> None:
    got_reason, got_status, detail = classify_exception(exc)
    assert (got_reason, got_status) == (reason, status)
    assert detail


def test_failure_from_exception_carries_request_fields() -> None:
    failure = failure_from_exception(REQUEST, DownloadTimeoutError("slow"), fetched_at=WHEN)
    assert failure == FetchFailure(
        url=REQUEST.url,
        source="src",
        reason="timeout",
        detail="slow",
        status=None,
        fetched_at=WHEN,
        hint=REQUEST.hint,
    )


def test_scrapy_settings_follow_crawl_settings() -> None:
    settings = CrawlSettings(
        user_agent="ua/1",
        obey_robots=False,
        concurrency=7,
        concurrency_per_domain=3,
        delay=1.5,
        autothrottle=True,
        timeout=12,
        retries=4,
        retry_backoff=2,
        max_page_bytes=5000,
        max_redirects=6,
    )
    s = scrapy_settings(settings)
    assert s["USER_AGENT"] == "ua/1" and s["ROBOTSTXT_OBEY"] is False
    assert (s["CONCURRENT_REQUESTS"], s["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (7, 3)
    assert s["DOWNLOAD_DELAY"] == 1.5 and s["AUTOTHROTTLE_ENABLED"] is True
    assert s["AUTOTHROTTLE_TARGET_CONCURRENCY"] == 3.0
    assert (s["DOWNLOAD_TIMEOUT"], s["RETRY_TIMES"]) == (12, 4)
    assert {408, 429, 500, 503} <= set(s["RETRY_HTTP_CODES"])
    assert (s["DOWNLOAD_MAXSIZE"], s["REDIRECT_MAX_TIMES"]) == (5000, 6)
    assert s["TELNETCONSOLE_ENABLED"] is False and s["LOG_LEVEL"] == "WARNING"
    assert s["NEWSINGEST_RETRY_BACKOFF"] == 2


def test_default_idle_timeout_covers_the_slowest_honest_answer() -> None:
    settings = CrawlSettings(timeout=30, retries=2, retry_backoff=1, autothrottle=True)
    one_url = 3 * 30 + 1 + 2
    assert default_idle_timeout(settings) >= 2 * one_url + 60
