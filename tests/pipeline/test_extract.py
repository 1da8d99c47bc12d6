"""Extraction: main text and metadata from real pages, failures with reasons."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest

from crawler.records import FeedEntry, FetchedPage
from pipeline.extract import extract_article, merge_metadata
from pipeline.metadata import PageMetadata, parse_datetime
from pipeline.records import Article, Failure
from pipeline.settings import PipelineSettings
from pipeline.text import content_hash
from tests.conftest import SHARED

BENCH = SHARED / "benchmarks" / "extraction"
FETCHED = datetime(2024, 10, 25, 12, 0, tzinfo=UTC)

ARTICLE = """<!doctype html>
<html lang="en-GB"><head><title>Harbour reopens after storm | The Gazette</title>
<meta property="og:title" content="Harbour reopens after storm">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2024-10-21T08:30:00+02:00">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Monday after a storm closed it for three days,
the port authority said.</p>
<p>Fishing boats returned to their moorings in the morning,
and the ferry to the islands resumed at noon.
Engineers had inspected the breakwater overnight and found only minor damage to its outer wall.</p>
<p>"We are relieved that the damage is limited," the harbour master told reporters on the quay.</p>
</article>
<footer>Copyright 2024 The Gazette. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>"""


def page(
    html: str,
    *,
    url: str = "http://127.0.0.1/a.html",
    hint: FeedEntry | None = None,
    encoding: str | None = "utf-8",
) -> FetchedPage:
    return FetchedPage(
        url=url,
        final_url=url,
        source="gazette",
        status=200,
        headers={},
        body=html.encode(encoding or "utf-8"),
        encoding=encoding,
        fetched_at=FETCHED,
        hint=hint,
    )


def test_article_text_and_metadata_come_from_the_page() -> None:
    result = extract_article(page(ARTICLE), PipelineSettings(min_text_chars=100))
    assert isinstance(result, Article)
    assert result.title == "Harbour reopens after storm"
    assert result.authors == ("Jane Doe",)
    assert result.language == "en"
    assert result.published_at == datetime(2024, 10, 21, 6, 30, tzinfo=UTC)
    assert "harbour reopened on Monday" in result.text
    assert "harbour master told reporters" in result.text
    assert "Privacy" not in result.text and "Sport" not in result.text
    assert result.text.count("\n") >= 2  # paragraphs survive as lines
    assert result.content_hash == content_hash(result.text)


def test_feed_metadata_fills_what_the_page_lacks() -> None:
    bare = ARTICLE.replace('<meta name="author" content="Jane Doe">', "").replace(
        '<meta property="article:published_time" content="2024-10-21T08:30:00+02:00">', ""
    )
    hint = FeedEntry(
        url="http://127.0.0.1/a.html",
        title="Feed title",
        published_at=datetime(2024, 10, 20, 9, 15, tzinfo=UTC),
        authors=("Feed Author",),
    )
    result = extract_article(page(bare, hint=hint), PipelineSettings(min_text_chars=100))
    assert isinstance(result, Article)
    assert result.authors == ("Feed Author",)
    assert result.title == "Harbour reopens after storm"  # the page's title still wins
    assert result.published_at is not None


def test_a_day_only_page_date_takes_the_feeds_time_of_the_same_day() -> None:
    found = PageMetadata(
        title="t", authors=(), published_at=datetime(2024, 10, 20, tzinfo=UTC), language=None
    )
    hint = FeedEntry(url="u", published_at=datetime(2024, 10, 20, 9, 15, tzinfo=UTC))
    assert merge_metadata(found, hint).published_at == datetime(2024, 10, 20, 9, 15, tzinfo=UTC)
    other_day = FeedEntry(url="u", published_at=datetime(2024, 10, 22, 9, 15, tzinfo=UTC))
    assert merge_metadata(found, other_day).published_at == datetime(2024, 10, 20, tzinfo=UTC)


def test_a_page_without_main_text_is_a_failure_with_its_reason() -> None:
    html = "<html><body><nav><a href='/'>Home</a></nav><p>Subscribe!</p></body></html>"
    result = extract_article(page(html), PipelineSettings())
    assert isinstance(result, Failure)
    assert result.stage == "extract"
    assert result.reason == "no_main_text"
    assert result.url == "http://127.0.0.1/a.html"


def test_broken_markup_and_bad_bytes_do_not_raise() -> None:
    body = ARTICLE.replace("</p>", "").replace("</article>", "<div><span>")
    broken = page(body, encoding="utf-8")
    broken = FetchedPage(
        **{
            **{f: getattr(broken, f) for f in broken.__slots__},
            "body": broken.body + b"\xff\xfe\x00 trailing bytes",
        }
    )
    result = extract_article(broken, PipelineSettings(min_text_chars=100))
    assert isinstance(result, Article)
    assert "harbour reopened on Monday" in result.text


def test_latin1_page_is_decoded_with_the_detected_encoding() -> None:
    html = ARTICLE.replace("three days", "trois jours à l'été")
    result = extract_article(
        page(html, encoding="iso-8859-1"), PipelineSettings(min_text_chars=100)
    )
    assert isinstance(result, Article)
    assert "trois jours à l'été" in result.text


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-10-21", datetime(2024, 10, 21, tzinfo=UTC)),
        ("2024-10-21T08:30:00+0200", datetime(2024, 10, 21, 6, 30, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_datetime_gives_utc(value: str | None, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.skipif(not BENCH.is_dir(), reason="shared benchmark data not present")
def test_real_benchmark_pages_extract_close_to_the_truth() -> None:
    truth = json.loads((BENCH / "ground-truth.json").read_text())
    ids = sorted(truth)[:10]
    hits = 0
    for key in ids:
        html = gzip.decompress((BENCH / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8")
        result = extract_article(page(html, url=truth[key]["url"]), PipelineSettings())
        if isinstance(result, Article):
            expected = set(truth[key]["articleBody"].split())
            got = set(result.text.split())
            hits += len(expected & got) / max(1, len(expected)) > 0.8
    assert hits >= 8
