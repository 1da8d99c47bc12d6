"""URL identity in extraction: rel=canonical and og:url within a site, aliases, text pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest

from crawler.records import FetchedPage
from crawler.urls import same_site
from pipeline.extract import extract_article
from pipeline.metadata import declared_urls
from pipeline.records import Article
from pipeline.settings import PipelineSettings
from tests.conftest import SHARED

SETTINGS = PipelineSettings()
FETCHED = datetime(2024, 10, 25, 12, 0, tzinfo=UTC)
BODY = """
<article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Monday after a storm closed it for three days,
the port authority said on Monday evening.</p>
<p>Fishing boats returned to their moorings in the morning, and the ferry to the
islands resumed at noon. Engineers had inspected the breakwater overnight and found
only minor damage to its outer wall.</p>
<p>"We are relieved that the damage is limited," the harbour master told reporters.</p>
</article>"""


def html(head: str) -> str:
    return f"<html><head><title>Harbour reopens</title>{head}</head><body>{BODY}</body></html>"


def page(body: str, url: str, final_url: str | None = None, kind: str = "text/html") -> FetchedPage:
    return FetchedPage(
        url=url,
        final_url=final_url or url,
        source="gazette",
        status=200,
        headers={"content-type": f"{kind}; charset=utf-8"},
        body=body.encode("utf-8"),
        encoding="utf-8",
        fetched_at=FETCHED,
    )


def extract(fetched: FetchedPage) -> Article:
    outcome = extract_article(fetched, SETTINGS)
    assert isinstance(outcome, Article), outcome
    return outcome


def test_declared_urls_are_resolved_and_canonicalised_in_order() -> None:
    tree = lxml.html.fromstring(
        html(
            '<meta property="og:url" content="https://WWW.Gazette.co.uk/news/harbour#top">'
            '<link rel="alternate" href="/feed.xml">'
            '<link rel="Canonical nofollow" href="harbour?utm_source=rss&amp;page=1">'
            '<link rel="canonical" href="javascript:void(0)">'
        )
    )
    assert declared_urls(tree, "https://www.gazette.co.uk/news/other") == [
        "https://www.gazette.co.uk/news/harbour?page=1",
        "https://www.gazette.co.uk/news/harbour",
    ]
    assert declared_urls(lxml.html.fromstring(html("")), "https://x.example/") == []


def test_a_canonical_on_the_same_site_is_the_articles_url_and_the_rest_are_aliases() -> None:
    body = html('<link rel="canonical" href="https://www.gazette.co.uk/news/harbour">')
    article = extract(
        page(
            body,
            "https://m.gazette.co.uk/news/harbour?ref=app",
            final_url="https://amp.gazette.co.uk/news/harbour.amp",
        )
    )
    assert article.url == "https://www.gazette.co.uk/news/harbour"
    assert article.final_url == "https://amp.gazette.co.uk/news/harbour.amp"
    assert article.aliases == (
        "https://m.gazette.co.uk/news/harbour?ref=app",
        "https://amp.gazette.co.uk/news/harbour.amp",
    )


def test_og_url_counts_when_there_is_no_rel_canonical() -> None:
    body = html('<meta property="og:url" content="/news/harbour">')
    article = extract(page(body, "http://127.0.0.1:8000/news/harbour?session=1"))
    assert article.url == "http://127.0.0.1:8000/news/harbour"
    assert article.aliases == ("http://127.0.0.1:8000/news/harbour?session=1",)


def test_a_canonical_on_another_site_is_ignored_so_the_syndicated_copy_stays_its_own() -> None:
    # A partner republishing a wire story points rel=canonical at the original; its
    # own og:url is on its own site and is what it is stored under.
    body = html(
        '<link rel="canonical" href="https://original.example/story">'
        '<meta property="og:url" content="https://partner.example/wire/story">'
    )
    article = extract(page(body, "https://partner.example/wire/story?utm_medium=feed"))
    assert article.url == "https://partner.example/wire/story"
    only_foreign = html('<link rel="canonical" href="https://original.example/story">')
    asked = "https://partner.example/wire/story-2"
    article = extract(page(only_foreign, asked))
    assert (article.url, article.aliases) == (asked, ())
    # Two servers on one machine are two sites, too.
    other_port = html('<link rel="canonical" href="http://127.0.0.1:9000/story">')
    assert extract(page(other_port, "http://127.0.0.1:8000/story")).url == (
        "http://127.0.0.1:8000/story"
    )


def test_a_home_page_canonical_on_an_article_is_a_template_bug_and_ignored() -> None:
    body = html('<link rel="canonical" href="https://www.gazette.co.uk/">')
    url = "https://www.gazette.co.uk/news/harbour"
    assert extract(page(body, url)).url == url


def test_without_a_canonical_the_url_asked_for_stays_and_a_redirect_target_is_an_alias() -> None:
    asked = "https://www.gazette.co.uk/p/123"
    article = extract(page(html(""), asked, final_url="https://www.gazette.co.uk/news/harbour"))
    assert article.url == asked
    assert article.aliases == ("https://www.gazette.co.uk/news/harbour",)
    assert extract(page(html(""), asked)).aliases == ()


def test_a_local_file_takes_the_web_url_it_declares(tmp_path: Path) -> None:
    uri = (tmp_path / "saved.html").as_uri()
    body = html('<link rel="canonical" href="https://www.gazette.co.uk/news/harbour">')
    article = extract(page(body, uri))
    assert article.url == "https://www.gazette.co.uk/news/harbour"
    assert article.aliases == (uri,)
    # A relative canonical has no web page to resolve against: the file's URI stays.
    relative = html('<link rel="canonical" href="/news/harbour">')
    assert extract(page(relative, uri)).url == uri


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("https://www.bbc.co.uk/news/1", "https://m.bbc.co.uk/news/1", True),
        ("https://amp.theguardian.com/a", "https://www.theguardian.com/a", True),
        ("http://news.example.com/a", "https://example.com/b", True),
        ("https://www.bbc.co.uk/a", "https://www.itv.co.uk/a", False),
        ("https://alice.github.io/a", "https://bob.github.io/a", False),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b", True),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a", False),
        ("file:///tmp/a.html", "file:///tmp/b.html", False),
    ],
)
def test_same_site(first: str, second: str, same: bool) -> None:
    assert same_site(first, second) is same


def text_page(text: str, path: Path) -> FetchedPage:
    return page(text, path.as_uri(), kind="text/plain")


def test_a_text_page_is_its_own_article_with_a_title_line(tmp_path: Path) -> None:
    text = (
        "Harbour reopens after storm\n\n"
        "The harbour reopened on Monday after a storm closed it for three days, the port "
        "authority said.\n\nFishing boats returned to their moorings in the morning, and "
        "the ferry to the islands resumed at noon after engineers inspected the breakwater."
        "\n\n"
        "Share this article\n"
    )
    article = extract(text_page(text, tmp_path / "harbour.txt"))
    assert article.title == "Harbour reopens after storm"
    assert article.url == (tmp_path / "harbour.txt").as_uri() and article.aliases == ()
    assert article.text.split("\n") == [
        "The harbour reopened on Monday after a storm closed it for three days, the port "
        "authority said.",
        "Fishing boats returned to their moorings in the morning, and the ferry to the "
        "islands resumed at noon after engineers inspected the breakwater.",
    ]
    assert article.published_at is None and article.language is None


def test_a_short_text_page_fails_with_its_reason(tmp_path: Path) -> None:
    outcome = extract_article(text_page("Too short.", tmp_path / "x.txt"), SETTINGS)
    assert not isinstance(outcome, Article)
    assert outcome.reason == "no_main_text" and outcome.stage == "extract"


SEEDS = SHARED / "seeds"


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"shared seeds not found at {SEEDS}")
def test_the_seeds_as_text_pages_lose_their_boilerplate_and_keep_their_article_lines() -> None:
    labels = json.loads((SEEDS / "labels.json").read_text(encoding="utf-8"))["files"]
    for name, label in sorted(labels.items()):
        article = extract(text_page((SEEDS / name).read_text(encoding="utf-8"), SEEDS / name))
        kept = set(article.text.split("\n"))
        for line in (SEEDS / name).read_text(encoding="utf-8").split("\n"):
            line = line.strip()
            if not line or line in label["optional"]:
                continue
            if line in label["boilerplate"]:
                assert line not in kept, f"{name}: boilerplate kept: {line!r}"
            else:
                assert line in kept, f"{name}: article line lost: {line!r}"
