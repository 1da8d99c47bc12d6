"""Copy clusters end to end: the demo newsroom's syndicated articles share a copy cluster."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import pytest

from newsingest.demo.articles import DemoArticle, load_articles
from newsingest.demo_run import run_demo
from pipeline.fingerprint import shingle_hashes, words
from storage.copies import CopyIndex
from storage.settings import DatabaseSettings
from storage.store import open_store


def jaccard(a: DemoArticle, b: DemoArticle) -> float:
    """The true Jaccard similarity of two articles' word 4-shingle sets."""
    left, right = ({*shingle_hashes(words("\n".join(x.paragraphs))).tolist()} for x in (a, b))
    return len(left & right) / len(left | right)


@pytest.mark.slow
def test_the_demo_puts_syndicated_copies_in_one_cluster(tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite"
    run_demo(database, cycles=1, interval="2s")

    articles = load_articles()
    store = open_store(DatabaseSettings(url=f"sqlite:///{database}"))
    try:
        documents = list(store.documents())
        index = CopyIndex(store.engine)
        copy = index.copies_of(d.url for d in documents)
        assert len(copy) == len(documents)  # every stored document has a copy cluster

        by_article: dict[str, set[int]] = defaultdict(set)
        for doc in documents:
            slug = doc.url.rsplit("/", 1)[-1].removesuffix(".html")
            by_article[slug].add(copy[doc.url])
        assert set(by_article) == {a.slug for a in articles}
        # One cluster per article, however many publishers ran it.
        assert all(len(clusters) == 1 for clusters in by_article.values())
        # Different texts never share one: reports of different events, and reports of
        # one event that are not versions of one text. (The newsroom's ECB+ articles
        # include three pairs that are: one AP story as filed and as rewritten, with
        # 4-shingle Jaccard 0.33 to 0.67; those are copies.)
        for a, b in itertools.combinations(articles, 2):
            if a.story != b.story or jaccard(a, b) < 0.2:
                assert by_article[a.slug] != by_article[b.slug], (a.slug, b.slug)

        syndicated = [a for a in articles if a.syndicated]
        assert syndicated and all(len(a.publishers) >= 2 for a in syndicated)
        rule = {d.id: (d.published_at, -len(d.text or ""), d.id) for d in documents}
        for article in syndicated:
            [cluster_id] = by_article[article.slug]
            cluster = index.cluster(cluster_id)
            assert len(cluster.members) >= len(article.publishers)
            # The representative: the earliest published copy, then the longest text.
            assert cluster.representative_id == min(cluster.members, key=rule.__getitem__)

        # The five seed reports of one event are five different texts.
        assert len({c for a in articles if a.seed for c in by_article[a.slug]}) == 5
    finally:
        store.dispose()
