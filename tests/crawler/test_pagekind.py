"""Article detection: articles are kept, index, tag and section pages are not.

Fixture pages come from tests/sitepages.py (real-looking templates with navigation,
related stories and teaser cards); recall is measured on the 119 real news pages of
the shared extraction benchmark, which nobody on this project wrote.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawler.pagekind import ArticlePage, NotArticle, judge_page
from tests.sitepages import (
    article_page,
    author_page,
    brief_page,
    card_index_page,
    home_page,
    list_index_page,
    plain_article_page,
    search_page,
    tag_page,
    teaser_list_page,
    topic_page,
)

SITE = "https://news.example.org"
LINKS = [
    (f"/2024/10/{i:02d}/council-story-number-{i}", f"Council story number {i} about the bridge")
    for i in range(1, 16)
]

ARTICLES = {
    "og and JSON-LD": (article_page("Bridge vote", links=LINKS[:6]), "/2024/10/21/bridge-vote"),
    "JSON-LD only": (article_page("Bridge vote", og=False), "/news/bridge-vote"),
    "og only": (article_page("Bridge vote", json_ld=False), "/news/bridge"),
    "no declaration": (article_page("Bridge vote", og=False, json_ld=False), "/news/bridge"),
    "plain text, dated URL": (plain_article_page("Ferry plan"), "/2024/10/21/ferry-plan"),
    "text in divs with <br>": (plain_article_page("Ferry", wrap_divs=True), "/news/ferry"),
    "short brief in @graph": (brief_page("Lights retimed"), "/news/lights-retimed"),
}

INDEX_PAGES = {
    "home page": (home_page(LINKS), "/"),
    "home page stamped og:type=article": (home_page(LINKS, og_type="article"), "/"),
    "section of cards, og:type=article": (card_index_page("World", LINKS), "/world/"),
    "section of long cards": (card_index_page("World", LINKS, teaser_chars=450), "/world/"),
    "five long cards": (card_index_page("World", LINKS[:5], teaser_chars=450), "/world/"),
    "teaser river in one container": (teaser_list_page("Politics", LINKS), "/politics/"),
    "archive list": (list_index_page("October 2024", LINKS), "/2024/10/"),
    "tag page with CollectionPage": (tag_page("Bridges", LINKS), "/tag/bridges"),
    "topic page with a long intro": (topic_page("Bridges", LINKS), "/bridges"),
    "author page": (author_page("Jane Reporter", LINKS), "/people/jane-reporter"),
    "search results": (search_page("bridge", LINKS), "/find?query=bridge"),
}


@pytest.mark.parametrize("name", ARTICLES)
def test_article_pages_are_articles(name: str) -> None:
    body, path = ARTICLES[name]
    verdict = judge_page(body, url=SITE + path)
    assert isinstance(verdict, ArticlePage), verdict.reason
    assert verdict.is_article


@pytest.mark.parametrize("name", INDEX_PAGES)
def test_index_pages_are_not_articles(name: str) -> None:
    body, path = INDEX_PAGES[name]
    verdict = judge_page(body, url=SITE + path)
    assert isinstance(verdict, NotArticle), verdict.reason
    assert verdict.code in ("index_page", "listing", "thin_page")


def test_false_positives_on_synthetic_index_pages_and_misses_on_articles() -> None:
    wrong = [n for n, (b, p) in INDEX_PAGES.items() if judge_page(b, url=SITE + p).is_article]
    missed = [n for n, (b, p) in ARTICLES.items() if not judge_page(b, url=SITE + p).is_article]
    print(f"false positives: {len(wrong)} of {len(INDEX_PAGES)} index pages {wrong}")
    print(f"missed: {len(missed)} of {len(ARTICLES)} article pages {missed}")
    assert not wrong and not missed


def test_reason_names_what_decided() -> None:
    home = judge_page(home_page(LINKS), url=SITE + "/")
    assert home.reason.startswith("index_page: 15 links")
    river = judge_page(teaser_list_page("Politics", LINKS), url=SITE + "/politics/")
    assert "15 linked headlines" in river.reason
    tag = judge_page(tag_page("Bridges", LINKS), url=SITE + "/tag/bridges")
    assert isinstance(tag, NotArticle)
    article = judge_page(article_page("Bridge vote"), url=SITE + "/news/bridge-vote")
    assert "JSON-LD NewsArticle" in article.reason and "published date" in article.reason


def test_json_ld_article_inside_graph_list_and_main_entity() -> None:
    text = "".join(f"<p>{'The bridge will be rebuilt over two years. ' * 5}</p>" for _ in range(4))

    def page(data: object) -> bytes:
        ld = f'<script type="application/ld+json">{json.dumps(data)}</script>'
        return f"<html><head>{ld}</head><body><div>{text}</div></body></html>".encode()

    for data in (
        [{"@type": "Organization"}, {"@type": "ReportageNewsArticle"}],
        {"@graph": [{"@type": "WebPage"}, {"@type": ["BlogPosting", "Thing"]}]},
        {"@type": "WebPage", "mainEntity": {"@type": "http://schema.org/NewsArticle"}},
    ):
        verdict = judge_page(page(data), url=SITE + "/x")
        assert verdict.signals is not None
        assert verdict.signals.declared is not None, data
    # The articles an ItemList lists are not the page.
    listing = {"@type": "ItemList", "itemListElement": [{"@type": "NewsArticle"}]}
    signals = judge_page(page(listing), url=SITE + "/x").signals
    assert signals is not None and signals.declared is None and signals.listing is not None


def test_broken_json_ld_and_bad_bytes_give_a_verdict_not_an_error() -> None:
    broken = b'<html><head><script type="application/ld+json">{"@type": </script></head></html>'
    assert isinstance(judge_page(broken, url=SITE + "/"), NotArticle)
    empty = judge_page(b"   ", url=SITE + "/")
    assert isinstance(empty, NotArticle) and empty.code == "unparsable"
    latin = "<p>" + "Café à la crème, über alles. " * 30 + "</p>"
    verdict = judge_page(latin.encode("latin-1"), url=SITE + "/2024/10/01/cafe", encoding="latin-1")
    assert verdict.signals is not None and verdict.signals.body_chars > 500


def test_real_news_pages_are_articles(shared_dir: Path) -> None:
    """Recall on real data: the benchmark's 119 pages are all news articles."""
    base = shared_dir / "benchmarks" / "extraction"
    truth = json.loads((base / "ground-truth.json").read_text())
    pages = sorted((base / "html").glob("*.html.gz"))
    assert len(pages) >= 100
    missed = []
    for path in pages:
        url = truth.get(path.name.split(".")[0], {}).get("url", "")
        verdict = judge_page(gzip.decompress(path.read_bytes()), url=url, encoding="utf-8")
        if not verdict.is_article:
            missed.append(f"{url}: {verdict.reason}")
    recall = 1 - len(missed) / len(pages)
    print(f"recall on {len(pages)} real article pages: {recall:.3f}", *missed, sep="\n  ")
    assert recall >= 0.97, missed
