"""End-to-end ingest speed against a local server, beside a plain trafilatura loop.

Serves the benchmark's real news pages (../shared/benchmarks/extraction) repeated
under distinct URLs behind one RSS feed on 127.0.0.1, ingests them into a fresh
SQLite file through the real path (feed poll, Scrapy fetcher process, extraction
and cleaning worker pool, batched upserts), once without and once with the batch
stages (learned boilerplate, copy and story clusters), and prints pages/s beside
the pages/s of a plain single-process ``trafilatura.extract`` loop over the same
pages, in the same run.

    python benchmarks/ingest.py [--copies 9] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import trafilatura

from newsingest.app import open_app
from newsingest.config import build_settings

REPO = Path(__file__).resolve().parents[1]


def load_pages(shared: Path) -> list[bytes]:
    files = sorted((shared / "benchmarks" / "extraction" / "html").glob("*.html.gz"))
    return [gzip.decompress(f.read_bytes()) for f in files]


class Site:
    """A local site: /feed.xml lists every page; /p/<n>.html serves page n."""

    def __init__(self, pages: list[bytes], copies: int) -> None:
        self.bodies = [pages[i % len(pages)] for i in range(len(pages) * copies)]
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    body, ctype = site.feed(), "application/rss+xml"
                elif self.path == "/robots.txt":
                    body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
                elif self.path.startswith("/p/") and self.path.endswith(".html"):
                    n = int(self.path[3:-5])
                    body, ctype = site.bodies[n], "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self) -> bytes:
        date = format_datetime(datetime(2024, 10, 21, tzinfo=UTC), usegmt=True)
        items = "".join(
            f"<item><title>Page {n}</title><link>{escape(self.base)}/p/{n}.html</link>"
            f"<pubDate>{date}</pubDate></item>"
            for n in range(len(self.bodies))
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>bench</title><link>{self.base}/</link>{items}</channel></rss>"
        ).encode()


def plain_loop(bodies: list[bytes]) -> float:
    """Pages/s of trafilatura.extract in one process, the baseline."""
    texts = [b.decode("utf-8") for b in bodies]
    start = time.perf_counter()
    for html in texts:
        trafilatura.extract(html, include_comments=False)
    return len(texts) / (time.perf_counter() - start)


def ingest(site: Site, workdir: Path, *, stages: bool) -> tuple[float, dict[str, int], int]:
    settings = build_settings(
        {
            "database": {"url": f"sqlite:///{workdir / 'bench.sqlite'}"},
            "crawl": {
                "delay": 0,
                "autothrottle": False,
                "concurrency": 32,
                "concurrency_per_domain": 32,
                "timeout": 30,
            },
            "sources": [{"id": "bench", "kind": "feed", "url": f"{site.base}/feed.xml"}],
        },
        origin="benchmark settings",
    )
    with open_app(settings, stages=stages) as app:
        app.pool.warm_up()  # a long-lived process has its workers running already
        start = time.perf_counter()
        [report] = app.ingestor.run(settings.sources)
        seconds = time.perf_counter() - start
        stored = app.store.count_documents()
    c = report.counts
    counts = {"found": c.found, "fetched": c.fetched, "stored": c.stored, "failed": c.failed_total}
    return c.fetched / seconds, counts, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=9, help="times each page is served")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    site = Site(load_pages(args.shared), args.copies)
    print(
        f"pages served: {len(site.bodies)} "
        f"({len(site.bodies) // args.copies} real pages x {args.copies})"
    )
    rates = {}
    for label, stages in (("fetch, extract, clean, store", False), ("+ batch stages", True)):
        with tempfile.TemporaryDirectory() as tmp:
            rates[label], counts, stored = ingest(site, Path(tmp), stages=stages)
        print(f"end-to-end ({label}): {rates[label]:.1f} pages/s  {counts}  in db: {stored}")
    baseline = plain_loop(site.bodies)
    print(f"plain trafilatura.extract loop (1 process): {baseline:.1f} pages/s")
    for label, rate in rates.items():
        print(f"ratio ({label}): {rate / baseline:.2f}x (target >= 1.4x)")
    site.server.shutdown()


if __name__ == "__main__":
    main()
