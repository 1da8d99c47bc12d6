"""Copy-cluster quality on syndicated copies: recall of copy pairs, clusters that mix articles.

Takes 200 real articles from ../shared/benchmarks/stories (ECB+) and republishes each
on 2 to 4 of eight synthetic publishers with light edits: a changed headline, a
paragraph dropped (one in two copies of articles with at least four paragraphs), a
credit line added ("Photo: NAME/AFP", "Additional reporting by ..."), and the
publisher's own boilerplate sentences above and below. The copies are written in
shuffled order into a fresh SQLite file through the store and the copy stage, in
batches of ``pipeline.batch_size``, then scored:

* recall: the share of pairs of copies of one article that share a copy cluster;
* mixed clusters: copy clusters holding copies of two different articles;
* the representative rule: clusters whose representative is not the earliest copy.

Articles shorter than ``pipeline.min_text_chars`` (200) are left out, as the pipeline
would not store them (ECB+ has a few one-line entries). ECB+ itself holds a few
near-copies (versions of one wire story filed as different
documents), which are copies by any measure; articles whose word 4-shingle Jaccard
with an article already taken is 0.2 or more are passed over, so "different articles"
means different texts. The script says how many it passed over.

    python benchmarks/syndication.py [--articles 200] [--seed 7] [--threshold 0.3]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsingest.copies import CopyStage
from pipeline.copies import CopySettings
from pipeline.fingerprint import SHINGLE_WORDS, shingle_hashes, words
from pipeline.records import Article
from pipeline.settings import PipelineSettings
from pipeline.text import content_hash
from storage.copies import CopyIndex
from storage.database import create_engine_for
from storage.migrate import ensure_schema
from storage.records import SourceRecord
from storage.settings import DatabaseSettings
from storage.store import Store

REPO = Path(__file__).resolve().parents[1]
STORIES = REPO.parent / "shared" / "benchmarks" / "stories" / "ecbplus-topics-01-35.jsonl"

PUBLISHERS = {
    "harbour-times": (
        "The Harbour Times brings you the news that matters to the coast.",
        "Sign up for the Harbour Times morning briefing, delivered before 7am.",
    ),
    "valley-post": (
        "Valley Post | Independent journalism since 1921.",
        "Follow the Valley Post on social media for live updates.",
    ),
    "metro-daily": (
        "You are reading Metro Daily, your city's most trusted source.",
        "Have a news tip? Email the Metro Daily newsroom any time.",
    ),
    "northern-star": (
        "Northern Star: news, sport and weather for the whole region.",
        "Subscribe to the Northern Star for unlimited access to every story.",
    ),
    "city-courier": (
        "City Courier newsroom report.",
        "Copyright City Courier Media Group. All rights reserved.",
    ),
    "global-wire": (
        "This article is published by Global Wire in partnership with local outlets.",
        "Download the Global Wire app to read stories offline.",
    ),
    "evening-herald": (
        "Evening Herald | Latest news.",
        "Comments are closed on this article. Read our community guidelines.",
    ),
    "daily-ledger": (
        "The Daily Ledger is supported by readers like you.",
        "Share this story with your friends and family on social media.",
    ),
}
NAMES = ["Maria Lopez", "John Smith", "Aiko Tanaka", "Pierre Dubois", "Femi Adeyemi", "Lena Berg"]
AGENCIES = ["AFP", "Reuters", "AP", "Getty Images", "EPA"]
CITIES = ["Paris", "New York", "Lagos", "Tokyo", "Berlin", "Sydney"]
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def shingles(text: str) -> set[int]:
    return set(shingle_hashes(words(text), SHINGLE_WORDS).tolist())


def pick_articles(rows: list[dict[str, str]], count: int, rng: random.Random) -> tuple[list, int]:
    """``count`` articles, none a near-copy of another (4-shingle Jaccard below 0.2)."""
    rng.shuffle(rows)
    chosen: list[tuple[dict[str, str], set[int]]] = []
    passed_over = 0
    for row in rows:
        if len(row["text"]) < PipelineSettings().min_text_chars:
            continue  # the pipeline stores no article this short (``no_main_text``)
        own = shingles(row["text"])
        if any(len(own & s) / max(1, len(own | s)) >= 0.2 for _, s in chosen):
            passed_over += 1
            continue
        chosen.append((row, own))
        if len(chosen) == count:
            break
    return [row for row, _ in chosen], passed_over


def credit(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"Photo: {rng.choice(NAMES).upper()}/{rng.choice(AGENCIES)}"
    return f"Additional reporting by {rng.choice(NAMES)} in {rng.choice(CITIES)}."


def republish(row: dict[str, str], publisher: str, n: int, rng: random.Random) -> Article:
    """One publisher's copy of an article, with that publisher's light edits."""
    paragraphs = [p for p in row["text"].split("\n") if p.strip()]
    if len(paragraphs) >= 4 and rng.random() < 0.5:
        del paragraphs[rng.randrange(1, len(paragraphs))]
    header, footer = PUBLISHERS[publisher]
    text = "\n".join([header, *paragraphs, credit(rng), footer])
    title = rng.choice(["UPDATE: {}", "{} | " + publisher, "{} (video)", "Breaking: {}"])
    published = T0 + timedelta(minutes=rng.randrange(0, 48 * 60))
    url = f"https://{publisher}.example/{row['id']}/{n}"
    return Article(
        url=url,
        final_url=url,
        source=publisher,
        title=title.format(row["title"][:80]),
        authors=(),
        published_at=published,
        fetched_at=published + timedelta(minutes=5),
        language="en",
        text=text,
        raw_text=text,
        content_hash=content_hash(text),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=CopySettings().threshold)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PipelineSettings().batch_size,
        help="documents per batch (default: the pipeline's, %(default)s)",
    )
    parser.add_argument("--stories", type=Path, default=STORIES)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in args.stories.read_text(encoding="utf-8").splitlines()]
    articles, passed_over = pick_articles(rows, args.articles, rng)
    copies: list[tuple[str, Article]] = []
    for row in articles:
        for n, publisher in enumerate(rng.sample(sorted(PUBLISHERS), rng.randint(2, 4))):
            copies.append((row["id"], republish(row, publisher, n, rng)))
    rng.shuffle(copies)

    with tempfile.TemporaryDirectory(prefix="syndication-") as tmp:
        engine = create_engine_for(DatabaseSettings(url=f"sqlite:///{tmp}/copies.db"))
        ensure_schema(engine, auto_migrate=True)
        store = Store(engine)
        store.sync_sources(SourceRecord(id=p, kind="feed", url=None) for p in PUBLISHERS)
        index = CopyIndex(engine, CopySettings(threshold=args.threshold))
        stage = CopyStage(index)
        clock = time.perf_counter()
        for start in range(0, len(copies), args.batch_size):
            batch = [a for _, a in copies[start : start + args.batch_size]]
            store.save_batch(batch)
            stage.after_save(batch)
        seconds = time.perf_counter() - clock
        cluster_of = index.copies_of(a.url for _, a in copies)
        clusters = list(index.clusters())
        ids = {d.url: d.id for d in store.documents()}
        engine.dispose()

    origin = {a.url: row_id for row_id, a in copies}
    by_article: dict[str, list[str]] = defaultdict(list)
    for row_id, a in copies:
        by_article[row_id].append(a.url)
    pairs = together = 0
    for urls in by_article.values():
        for u, v in itertools.combinations(urls, 2):
            pairs += 1
            together += cluster_of[u] == cluster_of[v]
    members: dict[int, set[str]] = defaultdict(set)
    for url, cluster in cluster_of.items():
        members[cluster].add(origin[url])
    mixed = sum(1 for m in members.values() if len(m) > 1)

    published = {ids[a.url]: (a.published_at, -len(a.text), ids[a.url]) for _, a in copies}
    wrong_rep = sum(
        1 for c in clusters if min(c.members, key=published.__getitem__) != c.representative_id
    )
    digest = hashlib.sha256(json.dumps(sorted(cluster_of.items())).encode()).hexdigest()[:12]
    print(f"articles: {len(articles)} (passed over {passed_over} near-copies of ones taken)")
    print(f"copies written: {len(copies)} on {len(PUBLISHERS)} publishers, shuffled")
    print(f"threshold (estimated Jaccard): {args.threshold}")
    print(f"copy clusters: {len(clusters)} (ideal {len(articles)})")
    print(f"copy-pair recall: {together / pairs:.4f} ({together} of {pairs} pairs)")
    print(f"clusters mixing two different articles: {mixed}")
    print(f"clusters whose representative breaks the rule: {wrong_rep}")
    print(f"time: {seconds:.2f} s ({len(copies) / seconds:.0f} copies/s, store + copy stage)")
    print(f"assignment digest: {digest}")


if __name__ == "__main__":
    main()
