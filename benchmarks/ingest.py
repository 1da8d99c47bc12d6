"""End-to-end ingest speed against a local server, beside a plain trafilatura loop.

Serves the benchmark's real news pages (../shared/benchmarks/extraction) repeated
under distinct URLs behind one RSS feed on 127.0.0.1, ingests them into a fresh
SQLite file through the real path (feed poll, Scrapy fetcher process, extraction
and cleaning worker pool, batched upserts), once without and once with the batch
stages (learned boilerplate, copy and story clusters), and prints pages/s beside
the pages/s of a plain single-process ``trafilatura.extract`` loop over the same
pages, in the same run.

The site runs in a process of its own, as a real site would (on the same two cores,
so its CPU time still counts against the pipeline).

    python benchmarks/ingest.py [--copies 9] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape

import trafilatura

from newsingest.app import open_app
from newsingest.config import build_settings

REPO = Path(__file__).resolve().parents[1]


def load_pages(shared: Path) -> list[bytes]:
    files = sorted((shared / "benchmarks" / "extraction" / "html").glob("*.html.gz"))
    return [gzip.decompress(f.read_bytes()) for f in files]


def site_bodies(pages: list[bytes], copies: int) -> list[bytes]:
    """The pages served: each real page ``copies`` times under distinct URLs."""
    return [pages[i % len(pages)] for i in range(len(pages) * copies)]


def feed(base: str, count: int) -> bytes:
    """An RSS feed listing /p/0.html ... /p/<count - 1>.html."""
    date = format_datetime(datetime(2024, 10, 21, tzinfo=UTC), usegmt=True)
    items = "".join(
        f"<item><title>Page {n}</title><link>{escape(base)}/p/{n}.html</link>"
        f"<pubDate>{date}</pubDate></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>bench</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def serve(shared: Path, copies: int, ports: Connection) -> None:
    """The site's process: /feed.xml lists every page, /p/<n>.html serves page n.

    A process of its own, as a real site would be: in the benchmark's process its
    threads would contend for the GIL with the pipeline's parent being measured.
    """
    bodies = site_bodies(load_pages(shared), copies)
    feeds: dict[str, bytes] = {}

    def answer(path: str, host: str) -> tuple[bytes, str] | None:
        if path == "/feed.xml":
            base = f"http://{host}"
            return feeds.setdefault(base, feed(base, len(bodies))), "application/rss+xml"
        if path.startswith("/p/") and path.endswith(".html"):
            return bodies[int(path[3:-5])], "text/html; charset=utf-8"
        return None

    server = page_server(answer, "127.0.0.1")
    ports.send(server.server_address[1])
    server.serve_forever()


def page_server(
    answer: Callable[[str, str], tuple[bytes, str] | None], address: str
) -> ThreadingHTTPServer:
    """A keep-alive HTTP server on ``address`` (port 0) for the benchmarks' sites.

    ``answer(path, host)`` gives a body and its content type, or None for a 404;
    robots.txt allows everything.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                found: tuple[bytes, str] | None = (b"User-agent: *\nAllow: /\n", "text/plain")
            else:
                found = answer(self.path, self.headers["Host"])
            if found is None:
                self.send_error(404)
                return
            body, ctype = found
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    return Server((address, 0), Handler)


def plain_loop(bodies: list[bytes]) -> float:
    """Pages/s of trafilatura.extract in one process, the baseline."""
    texts = [b.decode("utf-8") for b in bodies]
    start = time.perf_counter()
    for html in texts:
        trafilatura.extract(html, include_comments=False)
    return len(texts) / (time.perf_counter() - start)


def ingest(base: str, workdir: Path, *, stages: bool) -> tuple[float, dict[str, int], int]:
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
            "sources": [{"id": "bench", "kind": "feed", "url": f"{base}/feed.xml"}],
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
    bodies = site_bodies(load_pages(args.shared), args.copies)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.shared, args.copies, theirs), daemon=True
    )
    server.start()
    base = f"http://127.0.0.1:{ours.recv()}"
    print(f"pages served: {len(bodies)} ({len(bodies) // args.copies} real pages x {args.copies})")
    rates = {}
    try:
        for label, stages in (("fetch, extract, clean, store", False), ("+ batch stages", True)):
            with tempfile.TemporaryDirectory() as tmp:
                rates[label], counts, stored = ingest(base, Path(tmp), stages=stages)
            print(f"end-to-end ({label}): {rates[label]:.1f} pages/s  {counts}  in db: {stored}")
    finally:
        server.terminate()
    baseline = plain_loop(bodies)
    print(f"plain trafilatura.extract loop (1 process): {baseline:.1f} pages/s")
    for label, rate in rates.items():
        print(f"ratio ({label}): {rate / baseline:.2f}x (target >= 1.4x)")


if __name__ == "__main__":
    main()
