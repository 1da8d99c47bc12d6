"""Golden pages: small HTML pages with typical boilerplate, and what must and must not survive."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.records import FetchedPage
from pipeline.extract import extract_article
from pipeline.records import Article
from pipeline.settings import PipelineSettings
from pipeline.text import content_hash

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.html"))


def extract(name: str) -> Article:
    html = (GOLDEN / f"{name}.html").read_bytes()
    page = FetchedPage(
        url=f"http://127.0.0.1/{name}.html",
        final_url=f"http://127.0.0.1/{name}.html",
        source="golden",
        status=200,
        body=html,
        encoding="utf-8",
        fetched_at=datetime(2024, 10, 21, tzinfo=UTC),
    )
    article = extract_article(page, PipelineSettings())
    assert isinstance(article, Article), article
    return article


@pytest.mark.parametrize("name", CASES)
def test_golden_page(name: str) -> None:
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    article = extract(name)
    text = "\n" + article.text
    for fragment in expected["must_survive"]:
        assert fragment in text, f"{name}: lost {fragment!r}"
    for fragment in expected["must_go"]:
        assert fragment not in text, f"{name}: kept {fragment!r}"
    assert list(article.authors) == expected["authors"]


def test_article_keeps_raw_text_and_hashes_the_cleaned_one() -> None:
    article = extract("ai-notice")
    assert "Generative AI is experimental" in article.raw_text
    assert "Generative AI is experimental" not in article.text
    assert article.content_hash == content_hash(article.text)
    # Paragraphs stay apart.
    assert article.text.count("\n") == 3


def test_authors_from_the_page_win_over_bylines(tmp_path: Path) -> None:
    html = (GOLDEN / "wire-story.html").read_text(encoding="utf-8")
    html = html.replace("<head>", '<head><meta name="author" content="Desk Editor">')
    page = FetchedPage(
        url="http://127.0.0.1/x.html",
        final_url="http://127.0.0.1/x.html",
        source="golden",
        status=200,
        body=html.encode(),
        encoding="utf-8",
        fetched_at=datetime(2024, 10, 21, tzinfo=UTC),
    )
    article = extract_article(page, PipelineSettings())
    assert isinstance(article, Article)
    assert article.authors == ("Desk Editor",)
    assert "By Maria Lopez" not in article.text
