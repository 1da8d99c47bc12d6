"""More documents into a copy of a file kept by dedup_scale.py: a change compared at scale.

Building a 200,000-document file takes a quarter of an hour; writing the next 10,000
documents into a copy of it takes a minute or two. So a change to the copy or story
stage is compared where the corpus is large by keeping one file and running this
script under the old and the new code in turn, several times: it copies the file,
writes the next ``--count`` documents of the same synthetic corpus through the store,
the copy stage and the story stage (batches of ``--batch-size``, one transaction per
step, as ``dedup_scale.py`` does), and prints each stage's CPU ms, read calls and
KiB written per document. The copy is deleted afterwards, so every run starts from
the same state. The read and write counts do not change with the host's speed; the
CPU times do, which is why the runs should alternate.

    python benchmarks/dedup_scale.py --db /tmp/corpus200k.sqlite      # once
    python benchmarks/dedup_more.py /tmp/corpus200k.sqlite            # per version
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from contextlib import closing
from itertools import islice
from pathlib import Path

from dedup_scale import IO, Corpus, Tiers, batches  # this script's own folder

from pipeline.settings import PipelineSettings


def stored_documents(path: Path) -> int:
    """How many documents the kept file holds: the corpus goes on from there."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("db", type=Path, help="a file written by dedup_scale.py --db")
    parser.add_argument("--count", type=int, default=10_000, help="documents to add")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PipelineSettings().batch_size,
        help="documents per batch (default: the pipeline's, %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="the seed the file was built with")
    args = parser.parse_args()
    if not args.db.is_file():
        parser.error(f"{args.db} is not a file; build one with dedup_scale.py --db")
    log = args.db.with_name(args.db.name + "-wal")
    if log.is_file() and log.stat().st_size:
        # Committed pages may still be in the log: a copy of the file alone would lack them.
        parser.error(f"{args.db} has a write-ahead log; let the process writing it finish")
    held = stored_documents(args.db)

    with tempfile.TemporaryDirectory(prefix="dedup-more-", dir=args.db.parent) as tmp:
        path = Path(tmp) / args.db.name
        shutil.copyfile(args.db, path)
        tiers = Tiers(path, stories=True)
        # The same generator as the kept file's, past the documents it already holds.
        articles = islice(Corpus(args.seed).articles(held + args.count), held, None)
        timings = [tiers.write(batch) for batch in batches(articles, args.batch_size)]
        tiers.engine.dispose()

    written = args.count
    copy_cpu = sum(t.copy_cpu for t in timings)
    story_cpu = sum(t.story_cpu for t in timings)
    print(f"{held} documents in {args.db.name}, {written} more in batches of {args.batch_size}")
    for stage, cpu, io in [
        ("copy stage", copy_cpu, IO.total([t.copy_io for t in timings])),
        ("story stage", story_cpu, IO.total([t.story_io for t in timings])),
    ]:
        print(
            f"{stage}: CPU ms/doc {1e3 * cpu / written:.3f}, read calls/doc "
            f"{io.reads / written:.1f}, KiB written/doc {io.written / written / 1024:.1f}"
        )
    print(f"copy + story stages: CPU ms/doc {1e3 * (copy_cpu + story_cpu) / written:.3f}")


if __name__ == "__main__":
    main()
