"""The crawl section of the settings: politeness, limits and identity."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CrawlSettings(BaseModel):
    """How politely and how far the crawler fetches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_agent: str = "newsingest/0.1 (+https://github.com/newsingest/newsingest)"
    obey_robots: bool = True
    concurrency: int = Field(default=16, ge=1, le=512)  # requests in flight, all domains
    concurrency_per_domain: int = Field(default=2, ge=1, le=64)
    delay: float = Field(default=0.5, ge=0)  # seconds between requests to one domain
    autothrottle: bool = True
    timeout: float = Field(default=30.0, gt=0)  # seconds per request
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts on 5xx, 408, 429, resets
    retry_backoff: float = Field(default=1.0, ge=0)  # first back-off, doubled per retry
    max_page_bytes: int = Field(default=10_000_000, ge=1024)  # decompressed size cap per page
    max_feed_bytes: int = Field(default=20_000_000, ge=1024)
    # A sitemap may hold 50 MB (uncompressed) and 50,000 URLs (sitemaps.org); the
    # URL cap bounds one sitemap source's run however its indexes nest.
    max_sitemap_bytes: int = Field(default=50_000_000, ge=1024)
    max_sitemap_urls: int = Field(default=100_000, ge=1)
    max_redirects: int = Field(default=10, ge=0, le=50)
