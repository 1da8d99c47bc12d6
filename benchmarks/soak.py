"""Soak test: hundreds of scheduled cycles against a newsroom that keeps publishing.

A local site on 127.0.0.1 publishes ``--per-cycle`` new articles at every poll of
its feed (which lists the newest 30, as real feeds do). The real scheduler runs the
real path (feed poll, Scrapy fetcher process, extraction worker, batched upserts
into a fresh SQLite file) on a short interval for ``--cycles`` runs, and the script
prints the resident memory of the whole process tree (this process, the extraction
worker, any fetcher child) after cycle 10 and after the last cycle, and the time
per cycle. Target: growth of at most 10% between cycle 10 and cycle 200.

    python benchmarks/soak.py [--cycles 200] [--per-cycle 3] [--interval 1s]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from newsingest.app import open_app
from newsingest.config import build_settings
from newsingest.ingest import RunReport
from scheduler import Scheduler

SENTENCES = [
    "The harbour authority opened the new ferry terminal after three years of work.",
    "Commuters said the crossing now takes twelve minutes instead of forty.",
    "The old quay will become a market with room for sixty stalls and a playground.",
    "Night buses return to the island routes from the first of the month.",
    "Engineers repaired the pier, which had been closed since the winter storms.",
    "The council will vote on the budget for the seafront promenade next week.",
]


class Newsroom:
    """Serves /feed.xml (one more batch of articles per poll) and /a/<n>.html."""

    def __init__(self, per_poll: int) -> None:
        self.per_poll = per_poll
        self.published = 0
        self._lock = threading.Lock()
        newsroom = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body, kind = newsroom.answer(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, path: str) -> tuple[bytes, str]:
        if path == "/feed.xml":
            with self._lock:
                self.published += self.per_poll
                newest = range(self.published - 1, max(-1, self.published - 31), -1)
            items = "".join(
                f"<item><title>Story {n}</title><link>{self.base}/a/{n}.html</link></item>"
                for n in newest
            )
            rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Soak</title>{items}'
            return (rss + "</channel></rss>").encode(), "application/rss+xml"
        if path.startswith("/a/") and path.endswith(".html"):
            n = int(path[3:-5])
            text = " ".join(SENTENCES[(n + i) % len(SENTENCES)] for i in range(12))
            html = (
                f"<html><head><title>Story {n}</title></head><body><article>"
                f"<h1>Story {n}</h1><p>Report number {n}. {escape(text)}</p>"
                f"<p>{escape(text[::-1])}</p></article></body></html>"
            )
            return html.encode(), "text/html; charset=utf-8"
        return b"", "text/plain"


def tree_rss_kb(root: int) -> int:
    """Resident memory (kB) of ``root`` and every process descended from it."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            status = (proc / "status").read_text()
        except OSError:
            continue
        pid = int(proc.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[pid] = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--per-cycle", type=int, default=3)
    parser.add_argument("--interval", default="1s")
    args = parser.parse_args()
    # A run longer than the interval makes APScheduler skip the slot, as designed.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    newsroom = Newsroom(args.per_cycle)
    with tempfile.TemporaryDirectory(prefix="newsingest-soak-") as workdir:
        settings = build_settings(
            {
                "database": {"url": f"sqlite:///{workdir}/soak.sqlite"},
                "crawl": {"delay": 0, "autothrottle": False, "timeout": 10, "retries": 0},
                "pipeline": {"workers": 1, "min_text_chars": 100},
                # A fixed cadence: the soak measures the same work at every cycle.
                "scheduler": {"parallel_runs": 1, "adaptive_min": 1, "adaptive_max": 1},
                "sources": [
                    {
                        "id": "soak",
                        "kind": "feed",
                        "url": f"{newsroom.base}/feed.xml",
                        "interval": args.interval,
                    }
                ],
            },
            origin="soak settings",
        )
        stop = threading.Event()
        reports: list[RunReport] = []
        memory: dict[int, int] = {}
        started = time.monotonic()
        marks: list[float] = []

        def on_run(report: RunReport) -> None:
            reports.append(report)
            marks.append(time.monotonic())
            n = len(reports)
            if n in (1, 10, args.cycles) or n % 25 == 0:
                memory[n] = tree_rss_kb(os.getpid())
                print(
                    f"cycle {n:4d}: stored {report.counts.stored:2d} "
                    f"({report.status}), {report.seconds:.2f} s, tree RSS "
                    f"{memory[n] / 1024:.1f} MB",
                    flush=True,
                )
            if n >= args.cycles:
                stop.set()

        with open_app(settings, stop) as app:
            Scheduler(
                settings.sources, app.ingestor, settings.scheduler, on_run
            ).run_until_stopped()
            documents = app.store.count_documents("soak")
        newsroom.httpd.shutdown()

    total = time.monotonic() - started
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    run_seconds = [r.seconds for r in reports]
    failed = sum(r.status != "ok" for r in reports)
    print()
    print(f"cycles: {len(reports)} ({failed} not ok); documents stored: {documents}")
    print(f"articles published: {newsroom.published}")
    print(
        f"time per cycle: mean {statistics.mean(gaps):.2f} s, median "
        f"{statistics.median(gaps):.2f} s, max {max(gaps):.2f} s (interval {args.interval}); "
        f"run itself: mean {statistics.mean(run_seconds):.2f} s, max {max(run_seconds):.2f} s"
    )
    first, last = memory.get(10), memory.get(args.cycles)
    if first and last:
        growth = 100 * (last - first) / first
        print(
            f"process tree RSS: cycle 10 {first / 1024:.1f} MB, cycle {args.cycles} "
            f"{last / 1024:.1f} MB, growth {growth:+.1f}% (target <= 10%)"
        )
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    main()
