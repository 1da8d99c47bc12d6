"""A site source's pages for the ingest: the crawl's articles, the rest only counted.

:func:`crawler.sitecrawl.crawl_site` sends back every page it fetched or tried.
Only the articles go on to extraction and storage. Index pages (``not_article``)
and pages that could not be fetched are counted in the run, but never written as
document rows: a row would make the next run skip the page (a section front, a
tag page, a start page that failed once) and with it every new link it holds, and
a link's failure says nothing of an article, as the page was never judged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from crawler.records import SKIP_REASONS, FetchedPage, FetchResult
from crawler.settings import CrawlSettings
from crawler.sitecrawl import MAX_ARTICLES, NOT_ARTICLE, OFFSITE, crawl_site, plan_site
from crawler.sources import SourceConfig
from storage.records import RunCounts
from storage.store import Store

__all__ = ["site_results"]

logger = logging.getLogger(__name__)

# Deliberately not fetched or not stored, rather than gone wrong.
_SITE_SKIPS = SKIP_REASONS | {NOT_ARTICLE, OFFSITE, MAX_ARTICLES}


def site_results(
    source: SourceConfig, settings: CrawlSettings, store: Store, counts: RunCounts
) -> Iterator[FetchResult]:
    """Crawl the site ``source``, yielding its article pages; count everything else.

    ``counts.found`` is every page the crawl reached (start pages and the new
    same-site links within the limits), ``counts.new`` the pages it requested: the
    start pages and the links not stored yet, up to ``max_pages``.
    """
    counts.found += len(plan_site(source)[0].start_urls)

    def known(urls: list[str]) -> set[str]:
        counts.found += len(urls)
        return store.urls_to_skip(urls)

    # The writer thread adds the batches' counts meanwhile; it only ever touches
    # stored/updated/unchanged and extraction reasons, never the keys counted here.
    for result in crawl_site(source, settings, known=known):
        counts.new += 1
        if isinstance(result, FetchedPage):
            yield result
            continue
        if result.reason in (NOT_ARTICLE, MAX_ARTICLES):
            counts.fetched += 1  # downloaded, just not stored
        tally = counts.skipped if result.reason in _SITE_SKIPS else counts.failed
        tally[result.reason] += 1
        logger.debug(
            "site %s (%s): %s: %s %s",
            source.url or source.start_urls[0],
            source.id,
            result.url,
            result.reason,
            result.detail,
        )
