"""Copy- and story-stage speed and memory as the corpus grows: 200,000 documents into SQLite.

Writes synthetic documents (words drawn from a Zipf-weighted vocabulary, 3 to 12
paragraphs; one in ten a near-copy of a recent document with a paragraph dropped and
a credit line added) into a fresh SQLite file the way the ingest path does: each batch
of ``--batch-size`` is stored (``Store.save_batch``), put in copy clusters
(``CopyStage.after_save``) and then in stories (``StoryStage.after_save``, unless
``--no-stories``), one transaction each, on one core. Texts are generated as they are
written, so the script's own memory stays flat.

Prints the time per document over the first and the last 10,000 documents (copy stage
alone, wall clock and this process's CPU time, and with the store's write; then the
story stage and both tiers by CPU time), documents/s, and the process RSS at 10,000
and at the end. The CPU figures barely move when other processes load the machine;
the wall-clock ones include waiting for the disk and for the CPU. A shared machine's
speed drifts over a run this long, so two lines check for it: a fixed piece of work
that never touches the database (``control``) timed around the first and the last
10,000, and the first 10,000 written once more into a fresh file right after the last
10,000, which compares the two windows at one time. The read calls and bytes written
per document in each stage are counted too (Linux's /proc/self/io): they measure the
database work itself, pages read from the operating system and pages written to the
log and checkpointed, and unlike times they do not change with the host's speed.

    python benchmarks/dedup_scale.py [--count 200000] [--batch-size 200] [--db FILE]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from newsingest.copies import CopyStage
from newsingest.stories import story_stage
from pipeline.fingerprint import fingerprint_text
from pipeline.records import Article
from pipeline.settings import PipelineSettings
from pipeline.stories import StorySettings, story_doc
from pipeline.text import content_hash
from storage.copies import CopyIndex
from storage.database import create_engine_for
from storage.migrate import ensure_schema
from storage.records import SourceRecord
from storage.settings import DatabaseSettings
from storage.store import Store

WINDOW = 10_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def rss_mib() -> float:
    """The process's resident set size now, in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class Corpus:
    """Synthetic news-like texts, generated one at a time from a seeded generator."""

    def __init__(self, seed: int, vocabulary: int = 30_000, near_copies: float = 0.1) -> None:
        self.rng = random.Random(seed)
        self.words = [
            "".join(self.rng.choices(LETTERS, k=self.rng.randint(2, 11))) for _ in range(vocabulary)
        ]
        # Zipf-like weights: a few words are everywhere, as in real text.
        self.cum_weights = []
        total = 0.0
        for rank in range(1, vocabulary + 1):
            total += 1.0 / rank
            self.cum_weights.append(total)
        self.near_copies = near_copies
        self.recent: deque[list[str]] = deque(maxlen=2_000)  # bounded: memory stays flat

    def paragraph(self) -> str:
        n = self.rng.randint(15, 60)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum_weights, k=n)) + "."

    def text(self) -> str:
        if self.recent and self.rng.random() < self.near_copies:
            paragraphs = list(self.rng.choice(self.recent))
            if len(paragraphs) > 3:
                del paragraphs[self.rng.randrange(1, len(paragraphs))]
            paragraphs.append(f"Photo: {self.rng.choice(self.words).upper()}/AFP")
            return "\n".join(paragraphs)
        paragraphs = [self.paragraph() for _ in range(self.rng.randint(3, 12))]
        self.recent.append(paragraphs)
        return "\n".join(paragraphs)

    def articles(self, count: int) -> Iterator[Article]:
        for n in range(count):
            text = self.text()
            published = T0 + timedelta(seconds=30 * n)
            url = f"https://wire{n % 50}.example/{n}"
            yield Article(
                url=url,
                final_url=url,
                source="synthetic",
                title=f"Document {n}",
                authors=(),
                published_at=published,
                fetched_at=published,
                language="en",
                text=text,
                raw_text=text,
                content_hash=content_hash(text),
            )


def control(texts: list[str], settings: StorySettings) -> float:
    """CPU seconds to fingerprint and count the terms of ``texts``, best of three.

    The work does not touch the database, so it costs the same however large the
    corpus is: if it costs more at the end of a run than at the start, the machine
    slowed down (another tenant, a throttled CPU), and the ratios above include that.
    """
    best = float("inf")
    for _ in range(3):
        clock = time.process_time()
        for text in texts:
            fingerprint_text(text)
            story_doc("control", "Control", text, None, settings)
        best = min(best, time.process_time() - clock)
    return best


class IO(NamedTuple):
    """Read calls and bytes written by this process (Linux's /proc/self/io)."""

    reads: int
    written: int

    @classmethod
    def now(cls) -> IO:
        with open("/proc/self/io") as counters:
            fields = dict(line.split(": ") for line in counters.read().splitlines())
        return cls(int(fields["syscr"]), int(fields["wchar"]))

    def __sub__(self, other: IO) -> IO:
        return IO(self.reads - other.reads, self.written - other.written)

    @classmethod
    def total(cls, counts: list[IO]) -> IO:
        return cls(sum(c.reads for c in counts), sum(c.written for c in counts))


class Timings(NamedTuple):
    """One batch's cost, in seconds, and its I/O."""

    copy_wall: float  # the copy stage, wall clock
    total_wall: float  # the store's write and the copy stage, wall clock
    copy_cpu: float  # the copy stage, this process's CPU time
    story_cpu: float  # the story stage, CPU time (0 without it)
    copy_io: IO
    story_io: IO  # zero without the story stage


class Tiers:
    """A fresh SQLite file with the store, the copy stage and (optionally) the story stage."""

    def __init__(self, path: Path, stories: bool) -> None:
        self.engine = create_engine_for(DatabaseSettings(url=f"sqlite:///{path}"))
        ensure_schema(self.engine, auto_migrate=True)
        self.store = Store(self.engine)
        self.store.sync_sources([SourceRecord(id="synthetic", kind="urls", url=None)])
        self.index = CopyIndex(self.engine)
        self.copies = CopyStage(self.index)
        self.stories = story_stage(StorySettings(), self.engine) if stories else None

    def write(self, batch: list[Article]) -> Timings:
        """Store ``batch`` and run the stages on it, as ingest does."""
        clock = time.perf_counter()
        self.store.save_batch(batch)
        middle, cpu_middle, io_middle = time.perf_counter(), time.process_time(), IO.now()
        self.copies.after_save(batch)
        done, cpu_done, io_done = time.perf_counter(), time.process_time(), IO.now()
        story = 0.0
        if self.stories is not None:
            self.stories.after_save(batch)
            story = time.process_time() - cpu_done
        return Timings(
            done - middle,
            done - clock,
            cpu_done - cpu_middle,
            story,
            io_done - io_middle,
            IO.now() - io_done,
        )


def batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in articles:
        batch.append(article)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PipelineSettings().batch_size,
        help="documents per batch (default: the pipeline's, %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="SQLite file to write (default: a temporary one)")
    parser.add_argument("--no-stories", action="store_true", help="Run the copy stage only.")
    args = parser.parse_args()
    window = min(WINDOW, args.count // 2)

    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        path = args.db or Path(tmp) / "scale.db"
        tiers = Tiers(path, stories=not args.no_stories)

        fixed = [Corpus(seed=args.seed + 1000).text() for _ in range(200)]
        controls = {0: control(fixed, StorySettings())}  # documents written -> seconds
        copy_seconds: list[float] = []  # per batch
        total_seconds: list[float] = []
        copy_cpu: list[float] = []  # this process's CPU time: immune to other processes' load
        story_cpu: list[float] = []
        copy_io: list[IO] = []  # read calls and bytes written: immune to the host's speed
        story_io: list[IO] = []
        rss_at_window = 0.0
        written = 0
        started = time.perf_counter()
        for batch in batches(Corpus(args.seed).articles(args.count), args.batch_size):
            timings = tiers.write(batch)
            copy_seconds.append(timings.copy_wall)
            total_seconds.append(timings.total_wall)
            copy_cpu.append(timings.copy_cpu)
            story_cpu.append(timings.story_cpu)
            copy_io.append(timings.copy_io)
            story_io.append(timings.story_io)
            written += len(batch)
            if written == window:
                rss_at_window = rss_mib()
            if written in (window, args.count - window):
                controls[written] = control(fixed, StorySettings())
            if written % 20_000 == 0:
                elapsed = time.perf_counter() - started
                # CPU ms/doc over the last 20,000: a run cut short still shows the trend.
                recent = 20_000 // args.batch_size
                copy_ms = 1e3 * sum(copy_cpu[-recent:]) / 20_000
                story_ms = 1e3 * sum(story_cpu[-recent:]) / 20_000
                print(
                    f"  {written:>7} documents, {elapsed:.0f} s; CPU ms/doc over the last "
                    f"20000: copy {copy_ms:.3f}, story {story_ms:.3f}",
                    flush=True,
                )
        rss_end = rss_mib()
        controls[written] = control(fixed, StorySettings())
        # The first documents once more, into a fresh file, right after the last: the
        # host's speed drifts over a long run, and this pairs like with like in time.
        again = Tiers(Path(tmp) / "again.db", stories=not args.no_stories)
        again_cpu = [
            timings.copy_cpu + timings.story_cpu
            for timings in map(
                again.write, batches(Corpus(args.seed).articles(window), args.batch_size)
            )
        ]
        again.engine.dispose()
        clusters = sum(1 for _ in tiers.index.clusters())
        tiers.engine.dispose()
        size_mib = path.stat().st_size / 2**20

    per_window = window // args.batch_size
    first_copy = sum(copy_seconds[:per_window]) / window
    last_copy = sum(copy_seconds[-per_window:]) / window
    first_all = sum(total_seconds[:per_window]) / window
    last_all = sum(total_seconds[-per_window:]) / window
    print(f"documents: {written} in batches of {args.batch_size}; copy clusters: {clusters}")
    print(f"database file: {size_mib:.0f} MiB")
    print(
        f"copy stage, ms/doc: first {window}: {first_copy * 1e3:.3f}, "
        f"last {window}: {last_copy * 1e3:.3f} (ratio {last_copy / first_copy:.2f})"
    )
    first_cpu = sum(copy_cpu[:per_window]) / window
    last_cpu = sum(copy_cpu[-per_window:]) / window
    print(
        f"copy stage, CPU ms/doc: first {window}: {first_cpu * 1e3:.3f}, "
        f"last {window}: {last_cpu * 1e3:.3f} (ratio {last_cpu / first_cpu:.2f})"
    )
    print(
        f"store + copy stage, ms/doc: first {window}: {first_all * 1e3:.3f}, "
        f"last {window}: {last_all * 1e3:.3f} (ratio {last_all / first_all:.2f})"
    )
    print(
        f"documents/s: copy stage {written / sum(copy_seconds):.0f}, "
        f"store + copy stage {written / sum(total_seconds):.0f}; "
        f"copy stage by CPU time {written / sum(copy_cpu):.0f}"
    )
    if not args.no_stories:
        first_story = sum(story_cpu[:per_window]) / window
        last_story = sum(story_cpu[-per_window:]) / window
        print(
            f"story stage, CPU ms/doc: first {window}: {first_story * 1e3:.3f}, "
            f"last {window}: {last_story * 1e3:.3f} (ratio {last_story / first_story:.2f})"
        )
        first_both, last_both = first_cpu + first_story, last_cpu + last_story
        print(
            f"copy + story stages, CPU ms/doc: first {window}: {first_both * 1e3:.3f}, "
            f"last {window}: {last_both * 1e3:.3f} (ratio {last_both / first_both:.2f})"
        )
        print(
            f"documents/s by CPU time: story stage {written / sum(story_cpu):.0f}, "
            f"copy + story stages {written / (sum(copy_cpu) + sum(story_cpu)):.0f}"
        )
    for stage, counts in [("copy stage", copy_io), ("story stage", story_io)]:
        if stage == "story stage" and args.no_stories:
            continue
        first_io, last_io = IO.total(counts[:per_window]), IO.total(counts[-per_window:])
        print(
            f"{stage}, I/O per doc, first {window} -> last {window}: read calls "
            f"{first_io.reads / window:.1f} -> {last_io.reads / window:.1f}, KiB written "
            f"{first_io.written / window / 1024:.1f} -> {last_io.written / window / 1024:.1f}"
        )
    print(f"RSS: {rss_at_window:.0f} MiB at {window} documents, {rss_end:.0f} MiB at {written}")
    # A count that is not a multiple of the batch size misses some marks: use what was.
    first_control = statistics.fmean(controls[n] for n in (0, window) if n in controls)
    last_control = statistics.fmean(
        controls[n] for n in (written - window, written) if n in controls
    )
    print(
        f"control (the same texts fingerprinted and counted, no database), CPU ms: "
        f"around the first {window}: {first_control * 1e3:.0f}, around the last {window}: "
        f"{last_control * 1e3:.0f} (ratio {last_control / first_control:.2f}; above 1, the "
        "machine itself got slower)"
    )
    stages = "copy stage" if args.no_stories else "copy + story stages"
    again_ms = 1e3 * sum(again_cpu) / window
    last_ms = 1e3 * (sum(copy_cpu[-per_window:]) + sum(story_cpu[-per_window:])) / window
    print(
        f"{stages}, CPU ms/doc: the first {window} again, into a fresh file right after the "
        f"last {window}: {again_ms:.3f} (last {window} / this: {last_ms / again_ms:.2f})"
    )


if __name__ == "__main__":
    main()
