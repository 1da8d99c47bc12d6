"""Where to look and how to fetch: sources, feeds, sitemaps and the Scrapy fetcher.

The crawler returns fetched pages (``crawler.records``); it knows nothing of
extraction or of the database.
"""
