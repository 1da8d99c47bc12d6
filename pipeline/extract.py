"""Extract an article's main text and metadata from a fetched page with trafilatura."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml.html import HtmlElement

from crawler.records import FeedEntry, FetchedPage
from pipeline.records import Article, Failure
from pipeline.settings import PipelineSettings
from pipeline.text import content_hash, normalise_text

logger = logging.getLogger(__name__)

# trafilatura asks htmldate for a full timestamp where the page has one.
_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
_LANG = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageMetadata:
    """What the page itself says about the article (before falling back to the feed)."""

    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None


def extract_article(page: FetchedPage, settings: PipelineSettings) -> Article | Failure:
    """Turn a fetched page into an Article, or a Failure that carries its reason.

    Title, authors and date come from the page and fall back to the feed entry's.
    trafilatura's own dedup cache stays off: it is global to the process and its
    verdicts depend on the order pages arrive in.
    """
    html = decode_body(page.body, page.encoding)
    tree = trafilatura.load_html(html)
    if tree is None:
        return _failure(page, "unparsable_html", "the body is not parsable HTML")
    language = page_language(tree)
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=page.final_url,
            include_comments=False,
            with_metadata=True,
            deduplicate=False,
            favor_precision=settings.favor_precision,
            date_extraction_params=_DATE_PARAMS,
        )
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # trafilatura and lxml raise these on pathological markup; one page must
        # not stop a run, so it becomes a recorded failure.
        return _failure(page, "extraction_error", f"{type(exc).__name__}: {exc}")
    text = normalise_text(document.text or "") if document is not None else ""
    if len(text) < settings.min_text_chars:
        return _failure(
            page,
            "no_main_text",
            f"{len(text)} characters of main text (< {settings.min_text_chars})",
        )
    found = PageMetadata(
        title=_clean(document.title),
        authors=split_authors(document.author),
        published_at=parse_datetime(document.date),
        language=language,
    )
    meta = merge_metadata(found, page.hint)
    return Article(
        url=page.url,
        final_url=page.final_url,
        source=page.source,
        title=meta.title or "",
        authors=meta.authors,
        published_at=meta.published_at,
        fetched_at=page.fetched_at,
        language=meta.language,
        text=text,
        content_hash=content_hash(text),
    )


def decode_body(body: bytes, encoding: str | None) -> str:
    """Decode with the encoding the fetcher detected; undecodable bytes become U+FFFD."""
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # an encoding name Python does not know
        return body.decode("utf-8", errors="replace")


def page_language(tree: HtmlElement) -> str | None:
    """The page's declared language (``<html lang>``, then og:locale), as ISO 639-1/3."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language"]/@content')
    for value in candidates:
        match = _LANG.match((value or "").strip())
        if match:
            return match.group(0).lower()
    return None


def split_authors(value: str | None) -> tuple[str, ...]:
    """trafilatura joins several authors with '; '."""
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(";") if name.strip())


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO date or timestamp as tz-aware UTC (a date without zone is taken as UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def merge_metadata(found: PageMetadata, hint: FeedEntry | None) -> PageMetadata:
    """Prefer the page's metadata; fill gaps from the feed entry.

    Pages often give only a day while the feed gives the exact time: when both name
    the same day, the feed's timestamp is the more precise one.
    """
    if hint is None:
        return found
    published = found.published_at or hint.published_at
    if (
        found.published_at is not None
        and hint.published_at is not None
        and found.published_at.time() == datetime.min.time()
        and found.published_at.date() == hint.published_at.date()
    ):
        published = hint.published_at
    return PageMetadata(
        title=found.title or _clean(hint.title),
        authors=found.authors or hint.authors,
        published_at=published,
        language=found.language or hint.language,
    )


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _failure(page: FetchedPage, reason: str, detail: str) -> Failure:
    logger.debug("extract %s (%s): %s: %s", page.url, page.source, reason, detail)
    return Failure(
        url=page.url,
        source=page.source,
        stage="extract",
        reason=reason,
        detail=detail,
        status=page.status,
        at=page.fetched_at,
    )
