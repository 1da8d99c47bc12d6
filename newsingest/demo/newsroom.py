"""Serve the sample newsroom: fictional publishers with real articles, over real HTTP.

One host (127.0.0.1, a free port), each publisher under its own path prefix:

    /robots.txt                          one for the host; disallows /*/private/
    /<publisher>/                        front page, newest first
    /<publisher>/feed.xml                RSS 2.0 or Atom, per publisher
    /<publisher>/sitemap.xml             Google News sitemap
    /<publisher>/<yyyy>/<mm>/<slug>.html article pages
    /<publisher>/private/drafts.html     what robots.txt forbids

Every page and feed answers conditional GETs (ETag, Last-Modified -> 304) and is sent
gzipped to clients that accept it, so a second polling cycle fetches nothing again.
Tests add fault routes with `extra_routes` or `add_route`.

Run it by hand with `python -m newsingest.demo.newsroom`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from newsingest.demo import render
from newsingest.demo.articles import (
    DemoArticle,
    article_from_dict,
    load_articles,
    sort_newest_first,
)
from newsingest.demo.publishers import PUBLISHERS, Publisher

logger = logging.getLogger(__name__)

# Request headers: http.server gives an email Message, tests may pass a plain dict.
Headers = Mapping[str, str] | Message

HTML = "text/html; charset=utf-8"
FEED_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
# The smallest valid GIF: photos in article bodies point at /static/photos/.
PIXEL = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
)
NOT_FOUND = (
    b"<!DOCTYPE html><html><head><title>Page not found</title></head><body>404</body></html>"
)


@dataclass(frozen=True, slots=True)
class Response:
    """What a route returns; sent as is (no conditional GET, no compression)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = HTML


# A route gets the live request handler. It returns a Response to have it sent, or
# None when it wrote the answer itself (a fault route that truncates or stalls).
Route = Callable[[BaseHTTPRequestHandler], Response | None]


@dataclass(frozen=True, slots=True)
class Resource:
    """A prebuilt page or feed with its validators and gzipped variant."""

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str = field(init=False)
    gzipped: bytes = field(init=False)

    def __post_init__(self) -> None:
        # Derived here so identical content always gets the identical validator.
        object.__setattr__(self, "etag", '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"')
        object.__setattr__(self, "gzipped", gzip.compress(self.body, mtime=0))

    @property
    def gzip_etag(self) -> str:
        """Return the ETag of the gzipped variant (a different representation)."""
        return self.etag[:-1] + '-gz"'


def build_site(
    articles: Iterable[DemoArticle], publishers: Iterable[Publisher], base_url: str
) -> dict[str, Resource]:
    """Render every page, feed and sitemap of the newsroom, keyed by URL path."""
    site: dict[str, Resource] = {}
    publishers = tuple(publishers)
    articles = sort_newest_first(articles)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    for pub in publishers:
        listing = [a for a in articles if pub.id in a.publishers]
        newest = listing[0].published_at if listing else epoch
        feed = render.render_feed(pub, listing, base_url)
        site[pub.prefix + "feed.xml"] = Resource(feed.encode(), FEED_TYPES[pub.feed_format], newest)
        sitemap = render.render_sitemap(pub, listing, base_url)
        site[pub.prefix + "sitemap.xml"] = Resource(sitemap.encode(), "application/xml", newest)
        front = render.render_front_page(pub, listing)
        site[pub.prefix] = Resource(front.encode(), HTML, newest)
        private = render.render_private_page(pub)
        site[pub.prefix + "private/drafts.html"] = Resource(private.encode(), HTML, epoch)
        for article in listing:
            page = render.render_article_page(article, pub, base_url, listing)
            site[article.path(pub.id)] = Resource(page.encode(), HTML, article.published_at)
    robots = render.render_robots(base_url, publishers)
    site["/robots.txt"] = Resource(robots.encode(), "text/plain; charset=utf-8", epoch)
    return site


def not_modified(resource: Resource, headers: Headers) -> bool:
    """Decide whether a conditional GET can be answered with 304 (RFC 9110 13.2.2)."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since when both are sent.
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or resource.etag in tags or resource.gzip_etag in tags
    since = headers.get("If-Modified-Since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return resource.last_modified.replace(microsecond=0) <= when
    return False


def accepts_gzip(headers: Headers) -> bool:
    """Tell whether the client accepts a gzip Content-Encoding (ignoring 'gzip;q=0')."""
    for part in headers.get("Accept-Encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class NewsroomHandler(BaseHTTPRequestHandler):
    """Answer one request from the newsroom's prebuilt site and extra routes."""

    # HTTP/1.1 keeps connections alive, as real news sites do (Scrapy reuses them).
    protocol_version = "HTTP/1.1"
    server_version = "NewsroomDemo/1.0"
    newsroom: Newsroom  # set on a per-newsroom subclass

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the pipeline's own logs are what the demo shows."""

    def do_HEAD(self) -> None:
        """Answer like GET, without a body."""
        self.answer(with_body=False)

    def do_GET(self) -> None:
        """Answer from the extra routes, then the prebuilt site, else 404."""
        self.answer(with_body=True)

    def answer(self, *, with_body: bool) -> None:
        """Find what the path names and send it."""
        path = urlsplit(self.path).path
        route = self.newsroom.find_route(path)
        if route is not None:
            response = route(self)
            if response is not None:
                self.send_plain(response, with_body=with_body)
            return
        resource = self.newsroom.site.get(path)
        if resource is not None:
            self.send_resource(resource, with_body=with_body)
        elif path.startswith("/static/photos/"):
            self.send_plain(Response(200, PIXEL, content_type="image/gif"), with_body=with_body)
        else:
            self.send_plain(Response(404, NOT_FOUND), with_body=with_body)

    def send_resource(self, resource: Resource, *, with_body: bool) -> None:
        """Send a prebuilt resource, honouring conditional GET and gzip."""
        use_gzip = accepts_gzip(self.headers)
        etag = resource.gzip_etag if use_gzip else resource.etag
        common = {
            "ETag": etag,
            "Last-Modified": format_datetime(resource.last_modified, usegmt=True),
            "Cache-Control": "public, max-age=0, must-revalidate",
            "Vary": "Accept-Encoding",
        }
        if not_modified(resource, self.headers):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in common.items():
                self.send_header(name, value)
            self.end_headers()
            return
        body = resource.gzipped if use_gzip else resource.body
        headers = {**common, "Content-Type": resource.content_type}
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        self.send_plain(Response(200, body, headers, resource.content_type), with_body=with_body)

    def send_plain(self, response: Response, *, with_body: bool) -> None:
        """Send a response with a Content-Length (required to keep the connection)."""
        self.send_response(response.status)
        headers = {"Content-Type": response.content_type, **response.headers}
        headers.setdefault("Content-Length", str(len(response.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body and response.status not in (204, 304):
            self.wfile.write(response.body)


class _QuietServer(ThreadingHTTPServer):
    """A threading server that does not print client disconnects to stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed request at DEBUG: clients hang up mid-answer all the time."""
        logger.debug("newsroom: error answering %s", client_address, exc_info=True)


class Newsroom:
    """The sample newsroom, served over HTTP from a background thread.

    The socket is bound on construction, so `base_url` and every URL are known at
    once; `start()` (or entering the context manager) begins serving.
    """

    def __init__(
        self,
        *,
        articles: Iterable[DemoArticle | Mapping[str, Any]] | None = None,
        publishers: Iterable[Publisher] = PUBLISHERS,
        extra_routes: Mapping[str, Route] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Bind the server and render the site; `articles` default to the bundled ones."""
        loaded = (
            load_articles()
            if articles is None
            else [a if isinstance(a, DemoArticle) else article_from_dict(a) for a in articles]
        )
        self.publishers: tuple[Publisher, ...] = tuple(publishers)
        known = {p.id for p in self.publishers}
        for article in loaded:
            unknown = set(article.publishers) - known
            if unknown:
                raise ValueError(f"article {article.slug!r}: unknown publishers {sorted(unknown)}")
        self.articles: list[DemoArticle] = sort_newest_first(loaded)
        self._routes: dict[str, Route] = dict(extra_routes or {})
        self._lock = threading.Lock()
        handler = type("BoundNewsroomHandler", (NewsroomHandler,), {"newsroom": self})
        self._server = _QuietServer((host, port), handler)
        bound_host, bound_port = self._server.server_address[:2]
        if isinstance(bound_host, bytes):  # only for exotic address families
            bound_host = bound_host.decode()
        self.base_url = f"http://{bound_host}:{bound_port}"
        self.site = build_site(self.articles, self.publishers, self.base_url)
        self._thread: threading.Thread | None = None

    def start(self) -> Newsroom:
        """Serve from a daemon thread (idempotent); return self for chaining."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="newsroom", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Newsroom:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_route(self, path: str, route: Route) -> None:
        """Serve `path` (exact, or a prefix when it ends in '*') with `route`."""
        with self._lock:
            self._routes[path] = route

    def find_route(self, path: str) -> Route | None:
        """Return the extra route for a path: exact match first, then longest prefix."""
        with self._lock:
            if path in self._routes:
                return self._routes[path]
            prefixes = [p for p in self._routes if p.endswith("*") and path.startswith(p[:-1])]
            return self._routes[max(prefixes, key=len)] if prefixes else None

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on this newsroom."""
        return self.base_url + path

    def feed_urls(self) -> dict[str, str]:
        """Return each publisher's feed URL, keyed by publisher id."""
        return {p.id: self.url(p.prefix + "feed.xml") for p in self.publishers}

    def sitemap_urls(self) -> dict[str, str]:
        """Return each publisher's Google News sitemap URL, keyed by publisher id."""
        return {p.id: self.url(p.prefix + "sitemap.xml") for p in self.publishers}

    def articles_of(self, publisher_id: str) -> list[DemoArticle]:
        """Return the articles a publisher lists, newest first."""
        return [a for a in self.articles if publisher_id in a.publishers]

    def article_urls(self, publisher_id: str) -> list[str]:
        """Return the absolute URLs of a publisher's articles, newest first."""
        return [self.url(a.path(publisher_id)) for a in self.articles_of(publisher_id)]


def main(argv: list[str] | None = None) -> None:
    """Serve the newsroom until Ctrl-C, printing the feed URLs."""
    parser = argparse.ArgumentParser(description="Serve the newsingest sample newsroom.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    with Newsroom(host=args.host, port=args.port) as newsroom:
        print(f"Sample newsroom at {newsroom.base_url}/ (Ctrl-C to stop)")
        for publisher in newsroom.publishers:
            count = len(newsroom.articles_of(publisher.id))
            feed = newsroom.feed_urls()[publisher.id]
            print(f"  {publisher.name:<22} {publisher.feed_format:<4} {count:>3} articles  {feed}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
