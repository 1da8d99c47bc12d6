"""Feed and sitemap discovery: find a site's feeds and sitemaps, each one verified.

``discover`` reads the page it is given, and gathers candidates from three places:
the page's ``<link rel="alternate">`` feed links, the sitemaps robots.txt lists,
and the paths where feeds and sitemaps usually live (``/feed``, ``/rss.xml``,
``/sitemap.xml``, ...). Every candidate is fetched and kept only when it parses
as a feed (feedparser, JSON Feed) or a sitemap; the same feed at two addresses
(WordPress answers ``/feed`` and ``/rss`` alike) is reported once.

The page's links are read with lxml here rather than with trafilatura's feed
finder, which is internal to trafilatura, resolves relative links against the
site root instead of the page, and drops the ``<link>``'s title.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.html
from lxml import etree

from crawler.errors import BadURLError, CrawlerError, FeedError, SitemapError
from crawler.feeds import FEED_ACCEPT, parse_feed
from crawler.http import Download, download
from crawler.settings import CrawlSettings
from crawler.sitemaps import SITEMAP_ACCEPT, parse_sitemap, robots_sitemaps
from crawler.urls import canonical_url

__all__ = ["Discovery", "FoundSource", "discover"]

logger = logging.getLogger(__name__)

FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json")
SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml", "/sitemap-news.xml")
# The <link type>s that announce a feed ("application/xml" is common in the wild).
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/xml",
        "text/xml",
    }
)
_COMMENTS = re.compile(r"/comments?/|[?&]feed=comments", re.IGNORECASE)  # not articles
_MAX_LINKS = 10  # feed links read from one page
_THREADS = 4  # candidates fetched at once: a few, to stay polite

Via = Literal["page", "link", "robots", "path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundSource:
    """A verified feed or sitemap, ready to be configured as a source."""

    kind: Literal["feed", "sitemap"]
    url: str  # canonical, after redirects
    via: Via  # the page itself, a <link> on it, robots.txt, or a common path
    title: str | None = None  # the <link>'s title, for feeds found on the page
    entries: int = 0  # article URLs it lists now (sitemap indexes: sitemaps)
    index: bool = False  # a sitemap index
    news: bool = False  # a Google News sitemap (its URLs carry news:publication_date)


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    """What discovery found at one URL, and how much it looked."""

    url: str
    found: tuple[FoundSource, ...] = ()
    tried: int = 0  # URLs fetched, the page included
    page_error: str | None = None  # why the page could not be read: a reason code (detail)


@dataclass(frozen=True, slots=True)
class _Candidate:
    url: str
    via: Via
    title: str | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    found: FoundSource
    listed: tuple[str, ...]  # the URLs it lists, to tell one feed at two addresses


def discover(url: str, *, settings: CrawlSettings, client: httpx.Client | None = None) -> Discovery:
    """Find the feeds and sitemaps of the site at ``url``, each fetched and verified.

    Raises :class:`~crawler.errors.BadURLError` when ``url`` is not an http(s) URL.
    An unreachable site gives a :class:`Discovery` with ``page_error`` and nothing found.
    """
    url = canonical_url(url)
    http = client or httpx.Client(max_redirects=settings.max_redirects)
    try:
        return _discover(url, settings, http)
    finally:
        if client is None:
            http.close()


def _discover(url: str, settings: CrawlSettings, http: httpx.Client) -> Discovery:
    page: Download | None = None
    page_error: str | None = None
    try:
        page = _get(url, settings, http, accept="text/html, */*;q=0.8", cap=settings.max_page_bytes)
    except FeedError as exc:
        page_error = exc.reason + (f" ({exc.detail})" if exc.detail else "")
        if exc.reason in ("connection", "timeout", "bad_redirect", "redirect_loop"):
            return Discovery(url=url, tried=1, page_error=page_error)  # the site is not there
        # A 404 or a huge page: robots.txt and the common paths may yet find something.
    checked: list[_Checked] = []
    candidates: list[_Candidate] = []
    if page is not None:
        itself = _identify(page, _Candidate(page.final_url, "page"), settings)
        if itself is not None:
            checked.append(itself)
        else:
            candidates += _page_links(page)
    root = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    candidates += _robots_candidates(root, settings, http)
    candidates += [_Candidate(root + path, "path") for path in (*FEED_PATHS, *SITEMAP_PATHS)]
    candidates = _unique_candidates(candidates, skip={url, *(c.found.url for c in checked)})
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="discover") as threads:
        checked += [c for c in threads.map(lambda c: _check(c, settings, http), candidates) if c]
    return Discovery(
        url=url,
        found=_unique_found(checked),
        tried=2 + len(candidates),  # the page and robots.txt, then each candidate
        page_error=page_error,
    )


def _page_links(page: Download) -> list[_Candidate]:
    """The feed links of an HTML page, resolved against the page (or its <base>)."""
    try:
        tree = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return []
    base = page.final_url
    for href in tree.xpath("//base/@href")[:1]:
        base = urljoin(base, str(href))
    found: list[_Candidate] = []
    for link in tree.xpath("//link[@href]"):
        rel = {token.lower() for token in str(link.get("rel", "")).split()}
        kind = str(link.get("type", "")).split(";")[0].strip().lower()
        href = str(link.get("href"))
        if "alternate" not in rel or kind not in FEED_TYPES or _COMMENTS.search(href):
            continue
        try:
            target = canonical_url(href, base)
        except BadURLError:
            continue
        title = " ".join(str(link.get("title") or "").split()) or None
        found.append(_Candidate(target, "link", title))
        if len(found) >= _MAX_LINKS:
            break
    return found


def _robots_candidates(root: str, settings: CrawlSettings, http: httpx.Client) -> list[_Candidate]:
    try:
        robots = _get(root + "/robots.txt", settings, http, accept="text/plain", cap=512_000)
    except CrawlerError as exc:
        logger.debug("discovery: no robots.txt at %s (%s)", root, exc)
        return []
    return [_Candidate(u, "robots") for u in robots_sitemaps(robots.body, url=robots.final_url)]


def _check(candidate: _Candidate, settings: CrawlSettings, http: httpx.Client) -> _Checked | None:
    """Fetch a candidate; what it is, or None when it is neither a feed nor a sitemap."""
    cap = max(settings.max_feed_bytes, settings.max_sitemap_bytes)
    accept = SITEMAP_ACCEPT if "sitemap" in candidate.url else FEED_ACCEPT
    try:
        got = _get(candidate.url, settings, http, accept=accept, cap=cap)
    except CrawlerError as exc:
        logger.debug("discovery: %s (%s): %s", candidate.url, candidate.via, exc)
        return None
    return _identify(got, candidate, settings)


def _identify(got: Download, candidate: _Candidate, settings: CrawlSettings) -> _Checked | None:
    """A feed or a sitemap, by parsing; None for anything else (an HTML page, say)."""
    url = canonical_url(got.final_url)
    try:
        sitemap = parse_sitemap(got.body, url=url, max_bytes=settings.max_sitemap_bytes)
    except SitemapError:
        pass
    else:
        found = FoundSource(
            kind="sitemap",
            url=url,
            via=candidate.via,
            entries=len(sitemap.urls) or len(sitemap.sitemaps),
            index=sitemap.kind == "sitemapindex",
            news=any(u.entry.published_at or u.entry.title for u in sitemap.urls),
        )
        listed = [u.entry.url for u in sitemap.urls] + [s.url for s in sitemap.sitemaps]
        return _Checked(found, tuple(listed))
    try:
        entries = parse_feed(got.body, url=url, content_type=got.content_type)
    except FeedError:
        logger.debug("discovery: %s (%s) is neither a feed nor a sitemap", url, candidate.via)
        return None
    found = FoundSource(
        kind="feed", url=url, via=candidate.via, title=candidate.title, entries=len(entries)
    )
    return _Checked(found, tuple(e.url for e in entries))


def _get(
    url: str, settings: CrawlSettings, http: httpx.Client, *, accept: str, cap: int
) -> Download:
    # FeedError carries the same reason codes the CLI shows; the kind is found later.
    return download(
        url, settings=settings, max_bytes=cap, error=FeedError, accept=accept, client=http
    )


def _unique_candidates(candidates: list[_Candidate], skip: set[str]) -> list[_Candidate]:
    """The first candidate of each URL (links before robots.txt before paths)."""
    seen = set(skip)
    unique = []
    for candidate in candidates:
        if candidate.url not in seen:
            seen.add(candidate.url)
            unique.append(candidate)
    return unique


def _unique_found(checked: list[_Checked]) -> tuple[FoundSource, ...]:
    """One of each URL, and one of each feed served at several URLs; feeds first."""
    order = {"page": 0, "link": 1, "robots": 2, "path": 3}
    ranked = sorted(checked, key=lambda c: (c.found.kind != "feed", order[c.found.via]))
    urls: set[str] = set()
    contents: set[tuple[str, bool, tuple[str, ...]]] = set()
    unique = []
    for item in ranked:
        content = (item.found.kind, item.found.news, item.listed)
        if item.found.url in urls or (item.listed and content in contents):
            continue
        urls.add(item.found.url)
        contents.add(content)
        unique.append(item.found)
    return tuple(unique)
