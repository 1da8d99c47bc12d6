"""Story clustering quality and speed on ECB+ topics 1-35 (shuffled, without dates).

Feeds the documents of ../shared/benchmarks/stories in a shuffled order (one fixed
seed per run; several seeds) through the story tier exactly as ingestion does
(``StoryStore.cluster`` in batches, a fresh SQLite file each time), then prints
pairwise precision / recall / F1 and B-cubed F1 against the true stories, for the
topics the settings were tuned on (1-17), the held-out topics (18-35) and all of them,
and the tier's speed in documents per CPU second (this process, SQLite included).

    python benchmarks/stories.py [--seeds 1 2 3] [--batch-size 200]

With ``--scale N`` it instead feeds N synthetic dated documents (events of one to
eight reports over a few days, 2,000 documents a day, Zipf-distributed words) into
one SQLite file and prints the tier's documents per CPU second for each block of
10,000 and the process's peak memory, to show that the cost per document does not
grow with the corpus:

    python benchmarks/stories.py --scale 100000

With ``--ceiling`` it clusters each part offline instead, over the same term vectors
(every document and the part's own frequencies known at once, no arrival order), by
agglomerative clustering with the distance threshold chosen on the tuned topics, and
prints what that reaches on the held-out ones: how far the terms themselves carry,
apart from the one-pass algorithm's choices. A second table does the same in two
stages: documents grouped first (complete linkage, or the true topics as an upper
bound), then clustered within each group with every term also weighted by its idf
within the group, so the words a whole group shares count less than the ones that
tell its events apart.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.settings import PipelineSettings  # noqa: E402
from pipeline.stories import StorySettings, story_doc  # noqa: E402
from pipeline.terms import idf  # noqa: E402
from storage.database import create_engine_for  # noqa: E402
from storage.migrate import ensure_schema  # noqa: E402
from storage.settings import DatabaseSettings  # noqa: E402
from storage.stories import StoryStore  # noqa: E402

DATA = REPO.parent / "shared" / "benchmarks" / "stories" / "ecbplus-topics-01-35.jsonl"
TUNED_ON = range(1, 18)  # the topics the settings' defaults were chosen on
HELD_OUT = range(18, 36)


def pairwise(pred: Mapping[str, Any], gold: Mapping[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 over all pairs of documents."""

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter((pred[d], gold[d]) for d in gold))
    predicted = pairs(Counter(pred[d] for d in gold))
    true = pairs(Counter(gold.values()))
    p = both / predicted if predicted else 1.0
    r = both / true if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bcubed_f1(pred: Mapping[str, Any], gold: Mapping[str, str]) -> float:
    """B-cubed F1: per-document precision and recall of its cluster, averaged."""
    joint = Counter((pred[d], gold[d]) for d in gold)
    size_p = Counter(pred[d] for d in gold)
    size_g = Counter(gold.values())
    p = statistics.fmean(joint[(pred[d], gold[d])] / size_p[pred[d]] for d in gold)
    r = statistics.fmean(joint[(pred[d], gold[d])] / size_g[gold[d]] for d in gold)
    return 2 * p * r / (p + r)


def run(
    rows: Sequence[dict[str, Any]], seed: int, settings: StorySettings, batch_size: int
) -> tuple[dict[str, int], float]:
    """Cluster ``rows`` shuffled with ``seed`` in a fresh database; (stories, seconds)."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(DatabaseSettings(url=f"sqlite:///{tmp}/stories.db"))
        ensure_schema(engine, auto_migrate=True)
        store = StoryStore(engine)
        assigned: dict[str, int] = {}
        clock = time.process_time()  # this process's CPU: SQLite runs in it too
        for start in range(0, len(order), batch_size):
            docs = [
                story_doc(r["id"], r["title"], r["text"], None, settings)
                for r in order[start : start + batch_size]
            ]
            assigned.update(store.cluster(docs, settings))
        seconds = time.process_time() - clock
        engine.dispose()
    return assigned, seconds


def synthetic_docs(count: int, seed: int = 7) -> Iterator[tuple[str, str, str, datetime]]:
    """(key, title, text, published_at) of ``count`` synthetic reports, in time order.

    Each event has its own rare words and a two-word name; its reports mix those with
    common words, so they share little text but many rare terms, like real reports.
    """
    rng = random.Random(seed)
    common = [f"w{i}" for i in range(20_000)]
    weights = [1.0 / (i + 1) for i in range(len(common))]  # Zipf
    start = datetime(2020, 1, 1, tzinfo=UTC)
    produced = 0
    event = 0
    pending: list[tuple[float, int]] = []  # (day, event)
    while produced < count:
        day = produced / 2000
        # New events arrive so that there are ~2000 reports a day.
        while len(pending) < 200:
            event += 1
            for _ in range(rng.randint(1, 8)):
                pending.append((day + rng.uniform(0, 2), event))
            pending.sort()
        when, ev = pending.pop(0)
        erng = random.Random(ev)
        rare = [f"e{ev}x{i}" for i in range(12)]
        name = f"Nom{erng.randint(0, 10**6)} Ville{ev}"
        words = rng.choices(common, weights, k=220) + rng.sample(rare, 8)
        rng.shuffle(words)
        text = f"{name} said. " + " ".join(words) + f". {name} added."
        title = " ".join(rng.sample(rare, 3) + rng.choices(common, weights, k=4))
        yield f"s{produced}", title, text, start + timedelta(days=when)
        produced += 1


def scale(count: int, batch_size: int) -> None:
    """Feed ``count`` synthetic documents; print docs per CPU second per 10,000."""
    settings = StorySettings()
    block = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(DatabaseSettings(url=f"sqlite:///{tmp}/scale.db"))
        ensure_schema(engine, auto_migrate=True)
        store = StoryStore(engine)
        batch: list[Any] = []
        spent = 0.0
        done = 0
        print(f"{'documents':>10} {'docs/s (CPU)':>13} {'ms/doc':>7} {'peak RSS MB':>12}")
        for key, title, text, when in synthetic_docs(count):
            batch.append((key, title, text, when))
            if len(batch) < batch_size:
                continue
            clock = time.process_time()
            store.cluster([story_doc(k, t, x, w, settings) for k, t, x, w in batch], settings)
            spent += time.process_time() - clock
            done += len(batch)
            batch.clear()
            if done % block == 0:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"{done:>10} {block / spent:>13.0f} {1000 * spent / block:>7.2f} {rss:>12.0f}"
                )
                spent = 0.0
        engine.dispose()


def offline_terms(part: Sequence[dict[str, Any]], settings: StorySettings) -> tuple[Any, Any]:
    """The part's sublinear term frequencies (one row per document) and each term's idf,
    with the part's own document frequencies, as the story tier weighs them."""
    import numpy as np

    docs = [story_doc(r["id"], r["title"], r["text"], None, settings) for r in part]
    column = {term: i for i, term in enumerate(sorted({t for d in docs for t in d.counts}))}
    tf = np.zeros((len(docs), len(column)))
    for row, doc in enumerate(docs):
        for term, count in doc.counts.items():
            if count >= 1.0:  # as pipeline.terms.tfidf_vector weighs it
                tf[row, column[term]] = 1.0 + np.log(count)
    df = (tf > 0).sum(axis=0)
    return tf, np.array([idf(int(n), len(docs)) for n in df])


def unit_rows(matrix: Any) -> Any:
    """``matrix`` with each non-zero row scaled to unit length."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def cosine_distances(similarity: Any) -> Any:
    """The condensed distance vector (1 - cosine) of a square similarity matrix, as
    scipy's ``linkage`` takes it."""
    import numpy as np
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    return squareform(distance, checks=False)


class OfflinePart(NamedTuple):
    """One part's documents as the offline ceilings see them, computed once for both."""

    rows: Sequence[dict[str, Any]]
    tf: Any  # sublinear term frequencies, a row per document (``offline_terms``)
    idfs: Any  # each column's idf, from the part's own document frequencies
    plain: Any  # the unit TF-IDF vectors: ``tf * idfs``, rows scaled to length 1
    condensed: Any  # their pairwise cosine distances (``cosine_distances``)


def offline_parts(
    parts: Mapping[str, Sequence[dict[str, Any]]], settings: StorySettings
) -> dict[str, OfflinePart]:
    """Each part's term matrices and distances, for ``ceiling`` and ``conditioned_ceiling``."""
    found = {}
    for name, part in parts.items():
        tf, idfs = offline_terms(part, settings)
        plain = unit_rows(tf * idfs)
        found[name] = OfflinePart(part, tf, idfs, plain, cosine_distances(plain @ plain.T))
    return found


def ceiling(parts: Mapping[str, OfflinePart], tuned: str) -> None:
    """Agglomerative clustering of each part, the distance chosen on the part ``tuned``."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage  # scipy comes with datasketch

    distances = [round(d, 2) for d in np.arange(0.50, 0.99, 0.02)]
    print("offline: all documents of a part at once, cosine distance = 1 - cosine")
    print(f"{'linkage':<9} {'part':<20} {'dist':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for method in ("average", "complete"):
        scores: dict[str, dict[float, tuple[float, float, float]]] = {}
        for name, offline in parts.items():
            part = offline.rows
            tree = linkage(offline.condensed, method=method)
            gold = {r["id"]: r["cluster"] for r in part}
            scores[name] = {}
            for d in distances:
                labels = fcluster(tree, d, criterion="distance")
                pred = {r["id"]: int(label) for r, label in zip(part, labels, strict=True)}
                scores[name][d] = pairwise(pred, gold)
        chosen = max(distances, key=lambda d: scores[tuned][d][2])
        for name in scores:
            rows = [(name, chosen)]
            if name != tuned:  # for comparison: the distance chosen on its own answers
                best = max(distances, key=lambda d: scores[name][d][2])
                rows.append(("  (its own best)", best))
            for label, d in rows:
                p, r, f = scores[name][d]
                print(f"{method:<9} {label:<20} {d:5.2f} {p:6.3f} {r:6.3f} {f:6.3f}")


# Topic-conditioned weighting (the --ceiling's second table): within a group of
# similar reports, each term's weight is also multiplied by its idf within the group
# plus a floor. The words every report of a group shares say what kind of event it
# is; the ones only some of them share say which event. The similarity within a
# group blends the plain cosine (its share: the blend) with the conditioned one.
CONDITIONED_FLOORS = (0.5, 1.0)
CONDITIONED_BLENDS = (0.0, 0.3)


def grouped_trees(offline: OfflinePart, groups: Any, floor: float, blend: float) -> list[Any]:
    """Per stage-1 group: its rows and the average-linkage tree over the blend of plain
    and topic-conditioned cosines among them (None for a group of one)."""
    import numpy as np
    from scipy.cluster.hierarchy import linkage

    tf, idfs, plain = offline.tf, offline.idfs, offline.plain
    trees = []
    for label in np.unique(groups):
        rows = np.flatnonzero(groups == label)
        if len(rows) == 1:
            trees.append((rows, None))
            continue
        within = (tf[rows] > 0).sum(axis=0)
        local = np.log((len(rows) + 1) / (within + 1)) + floor
        conditioned = unit_rows(tf[rows] * idfs * local)
        similarity = blend * (plain[rows] @ plain[rows].T) + (1 - blend) * (
            conditioned @ conditioned.T
        )
        trees.append((rows, linkage(cosine_distances(similarity), method="average")))
    return trees


def grouped_labels(
    part: Sequence[dict[str, Any]], trees: Sequence[Any], distance: float
) -> dict[str, tuple[int, int]]:
    """Each document's cluster: its group's number and its cluster in that group's tree
    (``grouped_trees``) cut at ``distance``."""
    from scipy.cluster.hierarchy import fcluster

    labels: dict[str, tuple[int, int]] = {}
    for group, (rows, tree) in enumerate(trees):
        cut = [1] if tree is None else fcluster(tree, distance, criterion="distance")
        for row, label in zip(rows, cut, strict=True):
            labels[part[row]["id"]] = (group, int(label))
    return labels


def conditioned_ceiling(parts: Mapping[str, OfflinePart], tuned: str) -> None:
    """Two offline stages: group the part (complete linkage over the plain vectors, or
    its true topics as an upper bound), then cluster each group over topic-conditioned
    vectors; for each grouping, the floor, blend and second distance are chosen on the
    part ``tuned``."""
    import itertools

    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage

    firsts: list[float | None] = [None, 0.90, 0.93, 0.95]  # None: the true topics
    seconds = [round(d, 2) for d in np.arange(0.80, 0.97, 0.01)]
    weightings = list(itertools.product(CONDITIONED_FLOORS, CONDITIONED_BLENDS))
    Choice = tuple[float | None, float, float, float]  # first, floor, blend, second
    scores: dict[str, dict[Choice, tuple[float, float, float]]] = {}
    for name, offline in parts.items():
        part = offline.rows
        tree = linkage(offline.condensed, method="complete")
        gold = {r["id"]: r["cluster"] for r in part}
        scores[name] = {}
        for first in firsts:
            if first is None:
                groups = np.array([r["topic"] for r in part])
            else:
                groups = fcluster(tree, first, criterion="distance")
            for floor, blend in weightings:
                trees = grouped_trees(offline, groups, floor, blend)
                for second in seconds:
                    pred = grouped_labels(part, trees, second)
                    scores[name][(first, floor, blend, second)] = pairwise(pred, gold)
    print("offline, two stages: groups, then topic-conditioned vectors within each")
    heads = f"{'d1':>4} {'floor':>5} {'blend':>5} {'d2':>4} {'P':>6} {'R':>6} {'F1':>6}"
    print(f"{'stage 1':<17} {'part':<20} {heads}")
    for first in firsts:
        stage = "true topics" if first is None else "complete linkage"
        chosen = max((c for c in scores[tuned] if c[0] == first), key=lambda c: scores[tuned][c][2])
        _, floor, blend, second = chosen
        d1 = "-" if first is None else f"{first:.2f}"
        for name in scores:
            p, r, f = scores[name][chosen]
            print(
                f"{stage:<17} {name:<20} {d1:>4} {floor:5.1f} {blend:5.1f} {second:4.2f} "
                f"{p:6.3f} {r:6.3f} {f:6.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--batch-size",
        type=int,
        default=PipelineSettings().batch_size,
        help="documents per batch (default: the pipeline's, %(default)s)",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="Override a story setting."
    )
    parser.add_argument("--scale", type=int, default=0, metavar="N", help="Synthetic run.")
    parser.add_argument(
        "--ceiling", action="store_true", help="Offline agglomerative clustering instead."
    )
    args = parser.parse_args()
    if args.scale:
        scale(args.scale, args.batch_size)
        return
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    settings = StorySettings(**dict(item.split("=", 1) for item in args.set))
    tuned = "tuned (topics 1-17)"
    parts = {
        tuned: [r for r in rows if r["topic"] in TUNED_ON],
        "held out (18-35)": [r for r in rows if r["topic"] in HELD_OUT],
        "all (1-35)": rows,
    }
    if args.ceiling:
        offline = offline_parts(parts, settings)
        ceiling(offline, tuned)
        conditioned_ceiling(offline, tuned)
        return
    print(f"ECB+ {len(rows)} documents, shuffled, no dates; settings {settings.model_dump()}")
    heads = ("P", "R", "F1", "B3-F1")
    print(f"{'part':<20} {'seed':>4} {'docs':>5} " + " ".join(f"{h:>6}" for h in heads), "docs/s")
    for name, part in parts.items():
        gold = {r["id"]: r["cluster"] for r in part}
        scores = []
        for seed in args.seeds:
            pred, seconds = run(part, seed, settings, args.batch_size)
            p, r, f = pairwise(pred, gold)
            b3 = bcubed_f1(pred, gold)
            speed = len(part) / seconds
            scores.append((p, r, f, b3, speed))
            figures = " ".join(f"{x:6.3f}" for x in (p, r, f, b3))
            print(f"{name:<20} {seed:>4} {len(part):>5} {figures} {speed:6.0f}")
        mean = [statistics.fmean(s[i] for s in scores) for i in range(5)]
        print(
            f"{name:<20} {'mean':>4} {len(part):>5} "
            + " ".join(f"{x:6.3f}" for x in mean[:4])
            + f" {mean[4]:6.0f}"
        )


if __name__ == "__main__":
    main()
