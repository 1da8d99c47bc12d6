"""Learned per-host boilerplate: what it learns on real templates, and what it costs.

Drives the real code (``pipeline.extract.extract_article``, then the
``newsingest.cleaning.LearnedBoilerplate`` batch stage on a temporary SQLite file,
batch by batch as the ingest path does) over two corpora, and prints figures:

1. The sample newsroom (``newsingest/demo``): five publishers' templates around 49
   real articles (the seeds and ECB+), 62 pages; nine articles are filed word for
   word by two or three publishers. Pages are rendered offline in the demo's host
   layout (every publisher under one host) and with one host per publisher. For
   each ``min_documents``: paragraphs learned, how many of them are lines of an
   article's own text (false positives), and the article lines and boilerplate
   lines removed from the stored documents.
2. The extraction benchmark (../shared/benchmarks/extraction): 15 hosts have two
   pages each. The paragraphs two pages of one host share are what
   ``min_documents = 2`` would learn; the ground truth says how many of them are
   article text.

Plus the length of the paragraphs learned and of all paragraphs, for ``max_chars``.

    python benchmarks/boilerplate.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, or_, select

from crawler.records import FetchedPage
from newsingest.cleaning import LearnedBoilerplate, counted_text, explain, reclean
from newsingest.demo.articles import load_articles
from newsingest.demo.newsroom import build_site
from newsingest.demo.publishers import PUBLISHERS
from pipeline.boilerplate import (
    BoilerplateSettings,
    host_key,
    normalise_paragraph,
    paragraph_hash,
    split_paragraphs,
)
from pipeline.extract import extract_article
from pipeline.records import Article
from pipeline.settings import PipelineSettings
from storage.boilerplate import BoilerplateParagraph, BoilerplateStore
from storage.records import SourceRecord
from storage.settings import DatabaseSettings
from storage.store import open_store

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 11, 1, tzinfo=UTC)
BATCH = 10


def demo_articles(one_host: bool) -> list[Article]:
    """Every article page of the newsroom, extracted, in feed order per publisher."""
    articles = load_articles()
    base = "http://127.0.0.1:8000"
    site = build_site(articles, PUBLISHERS, base)
    pages: list[Article] = []
    for pub in PUBLISHERS:
        for article in articles:
            if pub.id not in article.publishers:
                continue
            path = article.path(pub.id)
            url = base + path if one_host else f"http://{pub.id}.example{path}"
            page = FetchedPage(
                url=url,
                final_url=url,
                source=pub.id,
                status=200,
                body=site[path].body,
                encoding="utf-8",
                fetched_at=NOW,
            )
            outcome = extract_article(page, PipelineSettings(min_text_chars=100))
            if isinstance(outcome, Article):
                pages.append(outcome)
    # Interleave the publishers, as one crawl over all their feeds would.
    by_pub: dict[str, list[Article]] = defaultdict(list)
    for a in pages:
        by_pub[a.source].append(a)
    mixed: list[Article] = []
    while any(by_pub.values()):
        for queue in by_pub.values():
            if queue:
                mixed.append(queue.pop(0))
    return mixed


def article_lines(shared: Path) -> set[str]:
    """Normalised lines of the articles' own text (seed lines labelled boilerplate out)."""
    labels = json.loads((shared / "seeds" / "labels.json").read_text(encoding="utf-8"))
    boiler = {
        normalise_paragraph(line)
        for entry in labels["files"].values()
        for line in entry["boilerplate"]
    }
    return {normalise_paragraph(p) for a in load_articles() for p in a.paragraphs} - boiler


class WithoutContentKeys(LearnedBoilerplate):
    """The stage with every document its own content key: copies count apart."""

    def __init__(self, store: BoilerplateStore, settings: BoilerplateSettings) -> None:
        super().__init__(store, settings)
        self._bp, self._bp_settings = store, settings

    def after_save(self, articles: list[Article]) -> None:
        texts = [
            replace(
                counted_text(a.url, a.final_url, a.raw_text, self._bp_settings),
                content_key=paragraph_hash(a.url),
            )
            for a in articles
        ]
        newly = self._bp.count(texts)
        if newly:
            self.clean_for(newly)


def run_demo(
    pages: Sequence[Article],
    settings: BoilerplateSettings,
    lines: set[str],
    *,
    content_keys: bool = True,
) -> dict[str, int]:
    """Ingest ``pages`` through the stage; return what was learned and removed."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(DatabaseSettings(url=f"sqlite:///{tmp}/bench.db"))
        try:
            store.sync_sources(SourceRecord(id=p.id, kind="feed", url=None) for p in PUBLISHERS)
            bp = BoilerplateStore(store.engine, settings)
            stage_type = LearnedBoilerplate if content_keys else WithoutContentKeys
            stage = stage_type(bp, settings)
            for start in range(0, len(pages), BATCH):
                batch = stage.before_save(list(pages[start : start + BATCH]))
                store.save_batch(batch)
                stage.after_save(batch)
            removed: Counter[str] = Counter()
            for doc in store.documents():
                outcome = explain(doc, bp, settings)
                for r in outcome.removed:
                    if r.rule == "learned":
                        kind = "article" if normalise_paragraph(r.paragraph) in lines else "boiler"
                        removed[kind] += 1
                assert not outcome.stored_text_differs, doc.url
            # Every paragraph the store knows, including those the rules remove first.
            with store.engine.connect() as conn:
                known = [
                    normalise_paragraph(text or "")
                    for text in conn.scalars(
                        select(BoilerplateParagraph.text).where(
                            or_(
                                BoilerplateParagraph.known_at.is_not(None),
                                BoilerplateParagraph.documents >= settings.min_documents,
                            )
                        )
                    )
                ]
        finally:
            store.dispose()
    return {
        "learned": len(known),
        "learned_article": sum(1 for p in known if p in lines),
        "removed_boiler": removed["boiler"],
        "removed_article": removed["article"],
    }


def benchmark_pages(shared: Path) -> tuple[list[Article], set[str]]:
    """The extraction benchmark's pages, extracted, and the ground truth's lines."""
    root = shared / "benchmarks" / "extraction"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages: list[Article] = []
    for page_id, entry in sorted(truth.items()):
        html = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        url = entry["url"]
        page = FetchedPage(
            url=url,
            final_url=url,
            source="bench",
            status=200,
            body=html,
            encoding="utf-8",
            fetched_at=NOW,
        )
        outcome = extract_article(page, PipelineSettings(min_text_chars=0))
        if isinstance(outcome, Article):
            pages.append(outcome)
    lines = {
        normalise_paragraph(p) for e in truth.values() for p in split_paragraphs(e["articleBody"])
    }
    return pages, lines


def pairs_report(pages: Sequence[Article], true_lines: set[str]) -> tuple[int, int, list[int]]:
    """Paragraphs shared by two pages of one host in the extraction benchmark."""
    by_host: dict[str, list[set[str]]] = defaultdict(list)
    for page in pages:
        paragraphs = {normalise_paragraph(p) for p in split_paragraphs(page.raw_text)}
        by_host[host_key(page.url)].append(paragraphs)
    shared_paragraphs: set[str] = set()
    for found in by_host.values():
        if len(found) >= 2:
            shared_paragraphs |= found[0] & found[1]
    in_truth = sum(1 for p in shared_paragraphs if p in true_lines)
    return len(shared_paragraphs), in_truth, sorted(len(p) for p in shared_paragraphs)


def stage_cost(pages: Sequence[Article], copies: int) -> tuple[float, float, int, float]:
    """Milliseconds per article of save_batch alone and with the stage around it.

    The pages are repeated ``copies`` times under distinct URLs of one host, as in
    benchmarks/ingest.py, and written in batches of 50 to a fresh SQLite file.
    Returns both figures, the paragraphs learned with the stage, and the documents
    per second of a ``reclean`` over the result.
    """
    articles = [
        replace(a, url=f"http://bench.example/{n}/{i}", final_url=f"http://bench.example/{n}/{i}")
        for n in range(copies)
        for i, a in enumerate(pages)
    ]
    timings: list[float] = []
    learned = 0
    rate = 0.0
    settings = BoilerplateSettings()
    for with_stage in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(DatabaseSettings(url=f"sqlite:///{tmp}/bench.db"))
            try:
                store.sync_sources([SourceRecord(id="bench", kind="feed", url=None)])
                bp = BoilerplateStore(store.engine, settings)
                stage = LearnedBoilerplate(bp, settings)
                start = time.perf_counter()
                for at in range(0, len(articles), 50):
                    batch = list(articles[at : at + 50])
                    if with_stage:
                        batch = stage.before_save(batch)
                    store.save_batch(batch)
                    if with_stage:
                        stage.after_save(batch)
                timings.append(1000 * (time.perf_counter() - start) / len(articles))
                if with_stage:
                    start = time.perf_counter()
                    result = reclean(bp, settings)
                    rate = result.examined / (time.perf_counter() - start)
                    with store.engine.connect() as conn:
                        learned = int(
                            conn.scalar(
                                select(func.count()).where(
                                    BoilerplateParagraph.known_at.is_not(None)
                                )
                            )
                            or 0
                        )
            finally:
                store.dispose()
    return timings[0], timings[1], learned, rate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args(argv)
    lines = article_lines(args.shared)

    for one_host, label in (
        (True, "one host (the demo's layout)"),
        (False, "a host per publisher"),
    ):
        pages = demo_articles(one_host)
        lengths = sorted(len(p) for a in pages for p in split_paragraphs(a.raw_text))
        print(f"Sample newsroom, {label}: {len(pages)} pages")
        print(
            "  paragraph length p50/p90/p99/max: "
            + "/".join(str(lengths[int(q * (len(lengths) - 1))]) for q in (0.5, 0.9, 0.99, 1.0))
        )
        for n in (2, 3, 4):
            got = run_demo(pages, BoilerplateSettings(min_documents=n), lines)
            print(
                f"  min_documents={n}: learned {got['learned']} paragraph(s), "
                f"{got['learned_article']} of them article lines; after the rules, removed "
                f"{got['removed_boiler']} boilerplate and {got['removed_article']} article "
                "line(s) from stored documents"
            )
        if one_host:
            got = run_demo(pages, BoilerplateSettings(), lines, content_keys=False)
            print(
                f"  min_documents=3 without content keys (copies counted apart): learned "
                f"{got['learned']} paragraph(s), {got['learned_article']} of them article "
                f"lines; after the rules, removed {got['removed_article']} article line(s)"
            )
    pages, true_lines = benchmark_pages(args.shared)
    total, in_truth, lengths = pairs_report(pages, true_lines)
    print(
        "Extraction benchmark, 15 hosts with 2 pages: "
        f"{total} paragraph(s) shared by both pages of a host, {in_truth} of them article "
        f"text (what min_documents=2 would learn); lengths {lengths}"
    )
    alone, staged, learned, rate = stage_cost(pages, copies=9)
    print(
        f"Stage cost, {len(pages)} benchmark pages x 9 URLs on one host, SQLite, batches of 50: "
        f"save_batch {alone:.2f} ms/article, with the stage {staged:.2f} ms/article; "
        f"{learned} paragraph(s) learned (copies count once); reclean {rate:.0f} documents/s"
    )


if __name__ == "__main__":
    main()
