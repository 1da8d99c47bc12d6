"""Backfill speed and memory: 20,000 URLs from a local server, through the real backfill path.

A server process serves ``--pages`` distinct article pages on ``--hosts`` loopback
addresses (127.0.0.1, 127.0.0.2, ...: separate hosts to the crawler). Each page is
one of the benchmark's real news pages (../shared/benchmarks/extraction) with a
paragraph of its own, so every URL has its own text (the copy stage sees near
copies, as in an archive of syndicated news). The URL list (hosts interleaved, one
bad line in 500) is written to a file and backfilled into a fresh SQLite file by
``newsingest.backfill.run_backfill`` with the app the command opens (fetcher child
per chunk, extraction workers, batch stages), politeness delays off.

Prints pages/s, and the resident memory of this process (the backfill's parent) and
of its children (extraction workers, the fetcher child of the chunk in hand; not the
server) at the start, every ``--every`` seconds, and at the end: it should stay flat.
Also the start-up time of one fetcher child, paid once per chunk.

    python benchmarks/backfill.py [--pages 20000] [--hosts 8] [--chunk-size 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest import REPO, load_pages, page_server
from soak import tree_rss_kb

from crawler.fetch import fetch_pages
from crawler.records import PageRequest
from crawler.sources import SourceConfig
from newsingest.app import open_app
from newsingest.backfill import BackfillSnapshot, URLList, run_backfill
from newsingest.config import build_settings
from storage.backfill import BackfillStore
from storage.records import SourceRecord

BAD_LINE_EVERY = 500


def page_body(pages: list[bytes], n: int) -> bytes:
    """Real page ``n % len(pages)`` with a paragraph naming ``n`` in front of its first one."""
    html = pages[n % len(pages)]
    own = (
        f"<p>Archive dispatch {n}: filed from desk {n % 97} as item {n * 7919 % 100003}.</p>"
    ).encode()
    at = html.find(b"<p")
    return html[:at] + own + html[at:] if at >= 0 else html + own


def serve(shared: Path, hosts: int, count: int, ports: Connection) -> None:
    """The server process: /p/<n>.html on every host, until terminated."""
    pages = load_pages(shared)

    def answer(path: str, host: str) -> tuple[bytes, str] | None:
        if path.startswith("/p/") and path.endswith(".html") and int(path[3:-5]) < count:
            return page_body(pages, int(path[3:-5])), "text/html; charset=utf-8"
        return None

    servers = [page_server(answer, f"127.0.0.{h + 1}") for h in range(hosts)]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports.send([s.server_address[1] for s in servers])
    servers[0].serve_forever()


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


def memory(server_pid: int) -> tuple[float, float]:
    """(this process's RSS, its children's RSS without the server), in MB."""
    me = rss_kb(os.getpid())
    children = tree_rss_kb(os.getpid()) - me - tree_rss_kb(server_pid)
    return me / 1024, children / 1024


def write_list(path: Path, bases: list[str], count: int) -> int:
    """Write the URL list (hosts interleaved, a bad line now and then); return its lines."""
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            if n and n % BAD_LINE_EVERY == 0:
                out.write(f"not a url {n}\n")
                lines += 1
            out.write(f"{bases[n % len(bases)]}/p/{n}.html\n")
            lines += 1
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--no-stages", action="store_true", help="leave out the batch stages")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(
        target=serve, args=(args.shared, args.hosts, args.pages, send), daemon=True
    )
    server.start()
    assert server.pid is not None
    ports: list[int] = receive.recv()
    bases = [f"http://127.0.0.{h + 1}:{port}" for h, port in enumerate(ports)]

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        listing = workdir / "urls.txt"
        total = write_list(listing, bases, args.pages)
        settings = build_settings(
            {
                "database": {"url": f"sqlite:///{workdir / 'backfill.sqlite'}"},
                "crawl": {
                    "delay": 0,
                    "autothrottle": False,
                    "concurrency": 32,
                    "concurrency_per_domain": 8,
                    "timeout": 30,
                },
            },
            origin="benchmark settings",
        )
        print(
            f"{args.pages:,} pages on {args.hosts} hosts, {total:,} lines, chunks of "
            f"{args.chunk_size:,}, batch stages {'off' if args.no_stages else 'on'}, "
            f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})"
        )

        started = time.perf_counter()
        probe = list(
            fetch_pages([PageRequest(url=f"{bases[0]}/p/0.html", source="probe")], settings.crawl)
        )
        startup = time.perf_counter() - started
        print(
            f"one fetcher child, start to first page: {startup:.1f} s ({type(probe[0]).__name__})"
        )

        with open_app(settings, stages=not args.no_stages) as app:
            app.store.sync_sources([SourceRecord(id="backfill", kind="urls", url=str(listing))])
            app.pool.warm_up()
            parent, children = memory(server.pid)
            print(f"start:   parent RSS {parent:7.1f} MB, children {children:7.1f} MB")
            samples: list[tuple[float, int, float, float]] = []
            last = [time.monotonic()]

            def sample(s: BackfillSnapshot) -> None:
                if time.monotonic() - last[0] < args.every:
                    return
                last[0] = time.monotonic()
                parent, children = memory(server.pid)
                samples.append((s.seconds, s.line, parent, children))
                print(
                    f"{s.seconds:6.0f} s: line {s.line:6,} ({s.pages_per_second:5.1f} pages/s), "
                    f"parent RSS {parent:7.1f} MB, children {children:7.1f} MB",
                    flush=True,
                )

            source = SourceConfig(id="backfill", kind="urls", path=listing)
            with listing.open(encoding="utf-8") as lines:
                result = run_backfill(
                    app.ingestor,
                    BackfillStore(app.store.engine),
                    source,
                    URLList(name=str(listing), lines=lines, key=str(listing), total_lines=total),
                    chunk_size=args.chunk_size,
                    on_progress=sample,
                    progress_every=1.0,
                )
            stored = app.store.count_documents()
            parent, children = memory(server.pid)  # the workers are still up
        seconds = result.report.seconds
        c = result.report.counts
    server.terminate()

    chunks = -(-args.pages // args.chunk_size)
    print(f"end:     parent RSS {parent:7.1f} MB, children {children:7.1f} MB (workers still up)")
    summary: dict[str, Any] = {
        "found": c.found,
        "fetched": c.fetched,
        "stored": c.stored,
        "failed": dict(c.failed),
        "bad lines": result.bad_line_count,
        "in db": stored,
    }
    print(f"backfill: {c.fetched / seconds:.1f} pages/s ({c.fetched:,} pages in {seconds:.0f} s)")
    print(f"counts: {summary}")
    print(
        f"fetcher start-up: about {startup:.1f} s x {chunks} chunks = "
        f"{100 * startup * chunks / seconds:.0f}% of the run"
    )
    if samples:
        first, peak = samples[0][2], max(s[2] for s in samples)
        print(f"parent RSS: first sample {first:.1f} MB, peak {peak:.1f} MB, end {parent:.1f} MB")


if __name__ == "__main__":
    main()
