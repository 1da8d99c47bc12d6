"""Story clustering quality and speed on ECB+ topics 1-35 (shuffled, without dates).

Feeds the documents of ../shared/benchmarks/stories in a shuffled order (one fixed
seed per run; several seeds) through the story tier exactly as ingestion does
(``StoryStore.cluster`` in batches, a fresh SQLite file each time), then prints
pairwise precision / recall / F1 and B-cubed F1 against the true stories, for the
topics the settings were tuned on (1-17), the held-out topics (18-35) and all of them,
and the tier's speed in documents per CPU second (this process, SQLite included).

    python benchmarks/stories.py [--seeds 1 2 3] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.stories import StorySettings, story_doc  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="Override a story setting."
    )
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    settings = StorySettings(**dict(item.split("=", 1) for item in args.set))
    parts = {
        "tuned (topics 1-17)": [r for r in rows if r["topic"] in TUNED_ON],
        "held out (18-35)": [r for r in rows if r["topic"] in HELD_OUT],
        "all (1-35)": rows,
    }
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
