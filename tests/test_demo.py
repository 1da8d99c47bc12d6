"""The demo, end to end, exactly as the README runs it: `newsingest demo`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from newsingest.demo.articles import load_articles
from storage.settings import DatabaseSettings
from storage.store import open_store
from storage.stories import StoryStore

NEWSINGEST = Path(sys.executable).parent / "newsingest"


def test_demo_ingests_the_newsroom_twice_and_refetches_nothing(tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite"
    done = subprocess.run(
        [str(NEWSINGEST), "demo", "--db", str(database), "--interval", "3s"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "the second cycle fetched no article again" in done.stdout
    assert "Traceback" not in done.stderr

    articles = load_articles()
    expected = {(p, a.slug) for a in articles for p in a.publishers}
    store = open_store(DatabaseSettings(url=f"sqlite:///{database}"))
    try:
        summaries = {s.source: s for s in store.source_summaries()}
        assert sum(s.documents for s in summaries.values()) == len(expected)
        assert all(not s.failures for s in summaries.values())
        for source, summary in summaries.items():
            runs = store.runs(source)
            assert [r.status for r in runs] == ["ok", "ok"]
            first, second = runs[-1], runs[0]  # newest first
            assert first.counts.fetched == summary.documents
            assert second.counts.fetched == 0

        # Each seed story is stored under its own publisher with its text intact.
        seeds = [a for a in articles if a.seed]
        assert len({a.publishers[0] for a in seeds}) == 5
        documents = list(store.documents())
        for seed in seeds:
            [doc] = [d for d in documents if d.url.endswith(f"/{seed.slug}.html")]
            assert doc.source == seed.publishers[0]
            assert seed.paragraphs[0][:80] in doc.text
            assert doc.published_at is not None

        # The five seed reports are one story, shown with all five publishers.
        seed_docs = [d for d in documents if any(d.url.endswith(f"/{s.slug}.html") for s in seeds)]
        stories = StoryStore(store.engine)
        [seed_story] = set(stories.story_ids(d.url for d in seed_docs).values())
        [summary] = [s for s in stories.summaries() if s.id == seed_story]
        assert summary.members == 5
        assert summary.publishers == tuple(sorted(a.publishers[0] for a in seeds))
        assert "Demo: stories with more than one document" in done.stdout
    finally:
        store.dispose()
