"""Export speed and memory: 100,000 documents to Parquet and to JSONL.

Fills a fresh database (SQLite file by default, or ``--db URL``) with ``--count``
synthetic documents of about ``--chars`` characters each, written through
``Store.save_batch`` in batches of 1,000 (so each gets its change number as the
pipeline's would), then gives every five documents one copy cluster and every twenty
one story with direct bulk inserts (the clustering itself is benchmarked elsewhere).

Then each format is exported in a child process of its own (``Corpus.read`` into
``newsingest.export.write_documents``, as ``newsingest export`` does), so each peak
RSS is that export's alone. ``read`` is the same pass writing nothing: the database's
share of the time. Prints rows/s, the child's RSS before the export and its peak
(VmHWM), and the file size.

    python benchmarks/export.py [--count 100000] [--chars 2000] [--db URL [--no-fill]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from pipeline.records import Article
from storage.copies import CopyClusterRow, CopyMemberRow
from storage.corpus import open_corpus
from storage.models import Document
from storage.records import SourceRecord
from storage.settings import DatabaseSettings
from storage.store import Store, open_store
from storage.stories import StoryMemberRow, StoryRow

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 1_000
COPIES_PER_CLUSTER = 5
DOCS_PER_STORY = 20
SOURCES = [SourceRecord(id=f"source-{i}", kind="feed", url=None) for i in range(10)]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def rss_mib() -> float:
    """This process's resident set size now, in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux).

    VmHWM rather than ru_maxrss: Linux carries the parent's peak over a fork and exec
    into the child's ru_maxrss, so it would report the filling process's memory.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def articles(count: int, chars: int, seed: int = 7) -> Iterator[list[Article]]:
    """The synthetic articles, in batches, generated as they are asked for."""
    rng = random.Random(seed)
    words = ["".join(rng.choices(LETTERS, k=rng.randint(2, 10))) for _ in range(5_000)]
    for start in range(0, count, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, count)):
            text = " ".join(rng.choices(words, k=chars // 6))[:chars]
            at = T0 + timedelta(minutes=i)
            batch.append(
                Article(
                    url=f"https://news{i % 10}.example/{i}",
                    final_url=f"https://news{i % 10}.example/{i}?src=feed",
                    source=f"source-{i % 10}",
                    title=f"Synthetic article {i}",
                    authors=("A. Writer",),
                    published_at=at - timedelta(hours=1),
                    fetched_at=at,
                    language="en",
                    text=text,
                    raw_text=text,
                    content_hash=hashlib.sha256(text.encode()).hexdigest(),
                )
            )
        yield batch


def fill(url: str, count: int, chars: int) -> None:
    """Write the documents, then their copy clusters and stories."""
    store = open_store(DatabaseSettings(url=url))
    store.sync_sources(SOURCES)
    started = time.perf_counter()
    for batch in articles(count, chars):
        store.save_batch(batch)
    stored = time.perf_counter() - started
    _cluster(store)
    print(
        f"filled {count:,} documents of ~{chars} chars in {time.perf_counter() - started:.1f} s "
        f"({count / stored:,.0f} documents/s through save_batch)"
    )
    store.dispose()


def _cluster(store: Store) -> None:
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        docs = conn.execute(
            select(Document.id, Document.url, Document.published_at).order_by(Document.id)
        ).all()
        clusters: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        stories: list[dict[str, Any]] = []
        story_members: list[dict[str, Any]] = []
        for n, (doc_id, doc_url, published) in enumerate(docs):
            if n % COPIES_PER_CLUSTER == 0:
                cluster = len(clusters) + 1
                clusters.append(
                    {
                        "id": cluster,
                        "representative_id": doc_id,
                        "size": COPIES_PER_CLUSTER,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            members.append(
                {
                    "document_id": doc_id,
                    "cluster_id": cluster,
                    "content_hash": f"h{doc_id}",
                    "signature": b"",
                    "shingles": 0,
                    "published_at": published,
                    "text_chars": 0,
                    "fingerprinted_at": now,
                }
            )
            if n % DOCS_PER_STORY == 0:
                story = len(stories) + 1
                stories.append(
                    {
                        "id": story,
                        "vector": {},
                        "members": DOCS_PER_STORY,
                        "first_at": published,
                        "last_at": published,
                        "touched": 0,
                    }
                )
            story_members.append({"url": doc_url, "story_id": story})
        for table, rows in (
            (CopyClusterRow, clusters),
            (CopyMemberRow, members),
            (StoryRow, stories),
            (StoryMemberRow, story_members),
        ):
            for start in range(0, len(rows), 10_000):
                conn.execute(insert(table), rows[start : start + 10_000])


def child(url: str, fmt: str, out: Path) -> None:
    """Export once and print the figures as JSON (runs in its own process)."""
    from newsingest.export import write_documents

    corpus = open_corpus(DatabaseSettings(url=url))
    before = rss_mib()
    started = time.perf_counter()
    read = corpus.read()
    if fmt == "read":
        rows = sum(1 for _ in read)
    else:
        rows = write_documents(read, "parquet" if fmt == "parquet" else "jsonl", out)
    seconds = time.perf_counter() - started
    corpus.dispose()
    size = out.stat().st_size if fmt != "read" else 0
    print(
        json.dumps(
            {"rows": rows, "seconds": seconds, "rss": before, "peak": peak_rss_mib(), "size": size}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--chars", type=int, default=2_000)
    parser.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    parser.add_argument(
        "--no-fill", action="store_true", help="export what --db holds, without filling it"
    )
    parser.add_argument("--child", choices=["read", "parquet", "jsonl"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'corpus.db'}"
        if args.child:
            child(url, args.child, args.out)
            return
        if not args.no_fill:
            fill(url, args.count, args.chars)
        print(
            f"{'format':8} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'RSS MiB':>8} "
            f"{'peak MiB':>9} {'file MiB':>9}"
        )
        for fmt in ("read", "parquet", "jsonl"):
            out = Path(tmp) / f"corpus.{fmt}"
            result = subprocess.run(
                [sys.executable, __file__, "--db", url, "--child", fmt, "--out", str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            f = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{fmt:8} {f['rows']:>8,} {f['seconds']:>8.1f} {f['rows'] / f['seconds']:>8,.0f} "
                f"{f['rss']:>8.0f} {f['peak']:>9.0f} {f['size'] / 2**20:>9.1f}"
            )


if __name__ == "__main__":
    main()
