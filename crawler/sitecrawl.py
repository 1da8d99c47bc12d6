"""Crawl a site from its start pages, sending back the pages that look like articles.

:func:`crawl_site` runs :class:`SiteSpider` in a crawler child process (the same
machinery as :func:`crawler.fetch.fetch_pages`: spawn, a result pipe, a hang and
crash watchdog). The spider fetches the start pages, follows same-site links up to
``max_depth`` and ``max_pages`` with Scrapy's LinkExtractor (``allow``/``deny``
patterns, no ``rel=nofollow``, no links to images, documents or feeds), breadth first, with
the list spider's politeness: robots.txt, per-domain concurrency, delay and
AutoThrottle, retries with back-off, size caps.

Each page is judged where its HTML is (:func:`crawler.pagekind.judge_page`, in the
child): an article comes back as a :class:`~crawler.records.FetchedPage`; any other
page comes back as a :class:`~crawler.records.FetchFailure` with reason
``not_article`` and the verdict as detail, without its body. Links are followed
from both.

What is already stored is the parent's to know: before following a page's new
links, the child asks the parent (``known``) which of them to skip, over the same
pipe. The parent holds no list of the site's stored URLs and the child none of the
database; what grows with a run is the set of URLs met in it, bounded by
``max_pages`` pages' links. The cost is one lookup per page with new links.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Generator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.errors import BadURLError
from crawler.fetch import CrawlerChild, default_idle_timeout
from crawler.outcomes import failure_from_exception, flatten_headers, now_utc, result_from_response
from crawler.pagekind import judge_page
from crawler.records import FetchedPage, FetchFailure, FetchResult, PageRequest
from crawler.settings import CrawlSettings
from crawler.sources import SourceConfig
from crawler.spider import Emit, run_spider, scrapy_settings
from crawler.urls import canonical_url

__all__ = [
    "MAX_ARTICLES",
    "NOT_ARTICLE",
    "OFFSITE",
    "SameSiteMiddleware",
    "SitePlan",
    "SiteSpider",
    "crawl_site",
    "plan_site",
]

logger = logging.getLogger(__name__)

NOT_ARTICLE = "not_article"  # FetchFailure reason of a page that is not an article
OFFSITE = "offsite_redirect"  # a same-site link that redirected to another site
MAX_ARTICLES = "max_articles"  # an article fetched after the run's max_articles were

Known = Callable[[list[str]], Collection[str]]
Ask = Callable[[list[str]], "Deferred[set[str]]"]

_URL = "newsingest_url"  # request meta: the canonical URL the link pointed to
# Links not worth a request: Scrapy's list (images, audio, video, office documents,
# archives) and the feeds and sitemaps a site links from every page.
_NOT_PAGES = [*IGNORED_EXTENSIONS, "xml", "rss", "atom", "json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SitePlan:
    """What one site crawl may fetch: sent to the crawler child, so plain values only."""

    source: str
    start_urls: tuple[str, ...]  # canonical; always fetched
    domains: tuple[str, ...]  # host names whose pages (and subdomains') are the site
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    max_depth: int = 2
    max_pages: int = 500
    max_articles: int | None = None


def plan_site(source: SourceConfig) -> tuple[SitePlan, list[FetchFailure]]:
    """The crawl plan of a ``site`` source, and a failure for each unusable start URL."""
    starts: list[str] = []
    bad: list[FetchFailure] = []
    for url in [*([source.url] if source.url else []), *source.start_urls]:
        try:
            canonical = canonical_url(url)
        except BadURLError as exc:
            bad.append(
                FetchFailure(
                    url=url,
                    source=source.id,
                    reason="bad_url",
                    detail=str(exc),
                    status=None,
                    fetched_at=now_utc(),
                )
            )
            continue
        if canonical not in starts:
            starts.append(canonical)
    domains = sorted({_site_domain(url) for url in starts})
    plan = SitePlan(
        source=source.id,
        start_urls=tuple(starts),
        domains=tuple(domains),
        allow=tuple(source.allow),
        deny=tuple(source.deny),
        max_depth=source.max_depth,
        max_pages=source.max_pages,
        max_articles=source.max_articles,
    )
    return plan, bad


def crawl_site(
    source: SourceConfig,
    settings: CrawlSettings,
    *,
    known: Known,
    idle_timeout: float | None = None,
) -> Generator[FetchResult, None, None]:
    """Crawl ``source`` (kind ``site``) in a child process, yielding results as they come.

    Yields a FetchedPage per article page, a FetchFailure ``not_article`` per other
    page fetched, and a FetchFailure per page that could not be fetched (robots.txt,
    HTTP errors, ...). ``known(urls)`` is called (in this process, while the
    generator is being iterated) with each batch of newly found links; the URLs it
    returns are not fetched. If the child dies or hangs, one ``crawler_crashed``
    failure for the first start URL says so. Closing the generator stops the child.
    """
    plan, bad = plan_site(source)
    yield from bad
    if not plan.start_urls:
        return
    limit = idle_timeout if idle_timeout is not None else default_idle_timeout(settings)
    child = CrawlerChild(
        _run_site_crawl,
        (plan, settings),
        what=f"site {source.id} ({len(plan.start_urls)} start URLs)",
        answer=known,
    )
    finished = False
    try:
        for _, record in child.results(limit):
            yield record
        if child.ending != "done":
            why = child.why_stopped()
            logger.warning(
                "site crawl %s (%s) stopped early: %s", plan.start_urls[0], plan.source, why
            )
            yield FetchFailure(
                url=plan.start_urls[0],
                source=plan.source,
                reason="crawler_crashed",
                detail=why,
                status=None,
                fetched_at=now_utc(),
            )
        finished = True
    finally:
        child.reap(graceful=finished)


def site_scrapy_settings(plan: SitePlan, settings: CrawlSettings) -> dict[str, Any]:
    """The list spider's Scrapy settings, made breadth-first, depth-limited, same-site."""
    base = scrapy_settings(settings)
    return {
        **base,
        "DOWNLOADER_MIDDLEWARES": {
            **base["DOWNLOADER_MIDDLEWARES"],
            # Sees every request, a redirect's new one too, after robots.txt (100).
            "crawler.sitecrawl.SameSiteMiddleware": 150,
        },
        # Breadth first: with a page budget, the pages near the start pages (newest
        # stories, section fronts) are fetched before the deep archive.
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        # The spider never schedules a link past max_depth; this is the backstop
        # (0 would mean "no limit" to Scrapy, and then no link is followed anyway).
        "DEPTH_LIMIT": plan.max_depth,
    }


def _run_site_crawl(plan: SitePlan, settings: CrawlSettings, conn: Any) -> None:
    """The crawler child's main for a site crawl."""
    run_spider(conn, site_scrapy_settings(plan, settings), SiteSpider, {"plan": plan}, asks=True)


class SiteSpider(scrapy.Spider):
    """Crawls one site from its start pages; emits articles, and every other outcome."""

    name = "newsingest_site"

    def __init__(self, *, plan: SitePlan, emit: Emit, ask: Ask, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.emit_result = emit
        self.ask = ask
        self.links = LinkExtractor(
            allow=plan.allow, deny=plan.deny, unique=True, deny_extensions=_NOT_PAGES
        )
        self.seen: set[str] = set(plan.start_urls)
        self.budget = max(plan.max_pages - len(plan.start_urls), 0)  # links still to fetch
        self.articles = 0
        self.sent = 0

    async def start(self) -> AsyncIterator[Any]:
        """The start pages, always fetched."""
        for url in self.plan.start_urls:
            yield self._request(url, dont_filter=True)

    def _request(self, url: str, *, dont_filter: bool = False) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.on_page,
            errback=self.on_failure,
            dont_filter=dont_filter,
            meta={_URL: url},
        )

    def _emit(self, record: FetchResult) -> None:
        self.sent += 1
        self.emit_result(self.sent, record)

    async def on_page(self, response: Response) -> AsyncIterator[scrapy.Request]:
        """Judge a fetched page, send it back, then follow its new links."""
        job = PageRequest(url=str(response.meta[_URL]), source=self.plan.source)
        encoding = response.encoding if isinstance(response, TextResponse) else None
        result = result_from_response(
            job,
            final_url=response.url,
            status=response.status,
            headers=flatten_headers(response.headers),
            body=response.body,
            encoding=encoding,
        )
        if not isinstance(result, FetchedPage):
            self._emit(result)  # not HTML: nothing to judge, no links
            return
        verdict = judge_page(response.body, url=response.url, encoding=encoding)
        if not verdict.is_article:
            logger.debug("not an article: %s (%s)", response.url, verdict.reason)
            self._emit(_not_article(result, verdict.reason))
        elif self._max_articles_reached():
            # Pages in flight when the last allowed article came: not stored this run.
            self._emit(_not_article(result, "max_articles reached", reason=MAX_ARTICLES))
        else:
            self.articles += 1
            self._emit(result)
        if isinstance(response, TextResponse):  # else HTML sniffed in a typeless body
            for request in await self._follow(response):
                yield request

    async def _follow(self, response: TextResponse) -> list[scrapy.Request]:
        depth = int(response.meta.get("depth", 0))
        if depth >= self.plan.max_depth or self.budget <= 0 or self._max_articles_reached():
            return []
        if _nofollow(response):
            return []
        fresh: list[str] = []
        for link in self.links.extract_links(response):
            if link.nofollow:
                continue
            try:
                url = canonical_url(link.url)
            except BadURLError:
                continue
            if url not in self.seen and self.same_site(url):
                self.seen.add(url)
                fresh.append(url)
        if not fresh:
            return []
        stored = await maybe_deferred_to_future(self.ask(fresh))
        wanted = [url for url in fresh if url not in stored][: self.budget]
        self.budget -= len(wanted)
        return [self._request(url) for url in wanted]

    def _max_articles_reached(self) -> bool:
        return self.plan.max_articles is not None and self.articles >= self.plan.max_articles

    def on_failure(self, failure: Failure) -> None:
        """A page that could not be fetched: robots.txt, HTTP error, off-site redirect, ..."""
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        job = PageRequest(url=str(request.meta[_URL]), source=self.plan.source)
        exc = failure.value
        assert isinstance(exc, BaseException)
        record = failure_from_exception(job, exc)
        if isinstance(exc, OffsiteRedirectError):
            record = FetchFailure(
                url=record.url,
                source=record.source,
                reason=OFFSITE,
                detail=str(exc),
                status=None,
                fetched_at=record.fetched_at,
            )
        self._emit(record)

    def same_site(self, url: str) -> bool:
        """Whether ``url`` is on the site: a start URL's host (``www.`` or not) or below."""
        host = urlsplit(url).hostname or ""
        return any(host == d or host.endswith("." + d) for d in self.plan.domains)


class OffsiteRedirectError(IgnoreRequest):
    """A followed link redirected to another site."""


class SameSiteMiddleware:
    """Downloader middleware: a followed link that redirects off the site is not fetched.

    Scrapy's OffsiteMiddleware would drop such a redirect silently (no errback runs
    for a request refused at scheduling), and the page would go unaccounted; raised
    here, the request's errback records it.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SameSiteMiddleware:
        return cls(crawler)

    def process_request(self, request: scrapy.Request) -> None:
        spider = self.crawler.spider
        if request.dont_filter or not isinstance(spider, SiteSpider):
            return  # start URLs go wherever they redirect
        if not spider.same_site(request.url):
            raise OffsiteRedirectError(f"redirected to {request.url}, another site")


def _not_article(page: FetchedPage, detail: str, *, reason: str = NOT_ARTICLE) -> FetchFailure:
    return FetchFailure(
        url=page.url,
        source=page.source,
        reason=reason,
        detail=detail,
        status=page.status,
        fetched_at=page.fetched_at,
    )


_NOFOLLOW = re.compile(r"\bnofollow\b|\bnone\b", re.IGNORECASE)


def _nofollow(response: TextResponse) -> bool:
    """The page asks robots not to follow its links (``<meta name="robots">``)."""
    values: Sequence[str] = response.xpath(
        "//meta[translate(@name, 'ROBTS', 'robts')='robots']/@content"
    ).getall()
    return any(_NOFOLLOW.search(value) for value in values)


def _site_domain(url: str) -> str:
    """The host name that stands for the site: ``www.`` dropped, so both variants match."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host
