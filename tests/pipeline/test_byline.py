"""The one-pass byline search gives trafilatura's answer, without its cost."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from lxml.html import HtmlElement
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html

from pipeline.byline import visible_author


def tree_of(body: str) -> HtmlElement:
    tree = load_html(f"<html><body>{body}</body></html>")
    assert tree is not None
    return tree


def test_same_author_as_trafilatura_on_every_real_page(shared_dir: Path) -> None:
    pages = sorted((shared_dir / "benchmarks" / "extraction" / "html").glob("*.html.gz"))
    assert len(pages) > 100
    found = 0
    for page in pages:
        tree = load_html(gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace"))
        expected = extract_author(tree)
        assert visible_author(tree) == expected, page.name
        found += expected is not None
    assert found > 50  # the comparison covers pages that have a byline, not only misses


@pytest.mark.parametrize(
    "body",
    [
        # the specific tier wins over a generic one earlier in the page
        '<p class="byline">Staff</p><span class="author-name">Ana Lopes</span>',
        # a name in the comments is not the byline
        '<div id="comments"><a class="author">Troll Person</a></div><p class="byline">Jo Kim</p>',
        # a date inside the byline is deleted, the text after it kept
        '<div class="byline">By Sam Rivera <time>May 2</time> and Lee Chen</div>',
        # too long to be a byline: the next candidate is taken
        '<div class="author">' + "word " * 40 + '</div><span class="writer">Mo Said</span>',
        # nothing that looks like a byline
        "<p>Just an article.</p>",
    ],
)
def test_same_author_as_trafilatura_on_byline_layouts(body: str) -> None:
    assert visible_author(tree_of(body)) == extract_author(tree_of(body))


def test_a_byline_in_the_comments_is_passed_over() -> None:
    body = '<div id="comments"><a class="author">Troll Person</a></div><p class="byline">Jo Kim</p>'
    assert visible_author(tree_of(body)) == "Jo Kim"
