"""Article metadata from the page: title, authors, publish date, language, canonical URL.

Built from trafilatura's own metadata steps, but only the ones an article record
needs: ``extract_metadata`` also derives categories, tags, licence and site name,
which cost about a third of its time and which nothing here stores.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title

from crawler.errors import BadURLError
from crawler.urls import canonical_url
from pipeline.byline import visible_author

# Ask htmldate for a full timestamp where the page has one.
DATE_OPTIONS: dict[str, Any] = {
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


def page_metadata(tree: HtmlElement, url: str | None = None) -> PageMetadata:
    """Title, authors, date and language, in trafilatura's order of trust.

    Meta tags first, JSON-LD over them, then the visible page; an "author" without
    a space is usually a site handle, not a name, as trafilatura also assumes.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    with suppress(Exception):  # trafilatura guards its JSON-LD parser the same way
        meta = extract_meta_json(tree, meta)
    title = meta.title or extract_title(tree)
    author = meta.author or visible_author(tree)
    # htmldate's extensive search (a scan of the whole page's text) costs more than
    # the text extraction itself; only pages whose markup names no date need it.
    date = find_date(tree, url=url, **{**DATE_OPTIONS, "extensive_search": False})
    if date is None:
        date = find_date(tree, url=url, **DATE_OPTIONS)
    return PageMetadata(
        title=_clean(title),
        authors=split_authors(author),
        published_at=parse_datetime(date),
        language=page_language(tree),
    )


def declared_urls(tree: HtmlElement, base: str) -> list[str]:
    """The URLs the page names as its own, canonicalised: rel=canonical, then og:url.

    Relative values are resolved against ``base`` (where the page was fetched); values
    that are not http(s) URLs are left out. Whether to trust them is the caller's call.
    """
    values = [
        str(link.get("href") or "")
        for link in tree.iter("link")
        if "canonical" in str(link.get("rel") or "").lower().split()
    ]
    values += tree.xpath('//meta[@property="og:url" or @name="og:url"]/@content')
    found: list[str] = []
    for value in values:
        try:
            url = canonical_url(str(value), base)
        except BadURLError:
            continue
        if url not in found:
            found.append(url)
    return found


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


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None
