"""Tell article pages from index pages by the page's own signals.

A site crawl meets home, section, tag, author and pagination pages as well as
articles; only articles are worth extracting and storing. :func:`judge_page` reads
what the page says of itself and how its text is laid out:

* declarations: ``og:type`` = ``article``, a JSON-LD object whose ``@type`` is an
  article type (at the top level, in ``@graph``, in a list, or as a page's
  ``mainEntity``; never inside an ``ItemList``, where a section page lists its
  articles), or one schema.org article in microdata. A JSON-LD ``CollectionPage``,
  ``ItemList`` or ``SearchResultsPage`` declares a listing;
* a publication date: ``article:published_time``, ``datePublished``, ``<time
  datetime>`` or the usual date ``<meta>`` names;
* the body: the most paragraph text (without link text) that one element holds
  in its child ``<p>`` elements, and how many headline links sit among those
  paragraphs (a list of teasers is many short paragraphs under linked headlines);
* the URL's shape, only as a weak hint (``/2024/05/12/slug``, ``/tag/``, ``/page/2``).

Declarations are trusted only with a body to back them: content-management
systems stamp ``og:type=article`` on section pages too, and an article whose body
is a few words cannot be extracted anyway. It is a pure function over the HTML
bytes (lxml, one parse), fast enough to run on every crawled page in the crawler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

__all__ = [
    "ARTICLE_TYPES",
    "LISTING_TYPES",
    "ArticlePage",
    "NotArticle",
    "PageSignals",
    "Verdict",
    "judge_page",
]

# schema.org types whose instance is one article (CreativeWork > Article and below).
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "report",
        "scholarlyarticle",
        "techarticle",
        "satiricalarticle",
    }
)
# schema.org types that declare a page listing other things.
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "profilepage"})

_DATE_METAS = frozenset(
    {
        "article:published_time",
        "og:article:published_time",
        "article.published",
        "datepublished",
        "date",
        "pubdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "dc.date",
        "dc.date.issued",
        "dcterms.created",
        "dcterms.issued",
        "parsely-pub-date",
        "sailthru.date",
        "article_date_original",
        "originalpublicationdate",
    }
)
# Not <form>: ASP.NET sites wrap the whole page in one.
_NOT_CONTENT = ("script", "style", "noscript", "template", "svg", "iframe", "select")
_CHROME = ("nav", "header", "footer", "aside")  # page furniture around the content
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_MIN_PARAGRAPH = 25  # chars: shorter runs of text are bylines, captions, buttons
# Inline elements: their text belongs to the paragraph around them.
_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "br",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
        "wbr",
    ]
)

# Body sizes, in chars of paragraph text (without link text) in the best block.
_THIN = 200  # below this there is no article to extract, declared or not
_SHORT = 500  # a declared, or dated, article may be this short (a news brief)
_LONG = 1500  # this much running text is an article even with no other signal
_MANY_CARDS = 4  # teaser cards (text blocks under a linked headline) of an index page
_CARDS_BODY = 1000  # a body shorter than this beside many cards is a standfirst

# lxml refuses a str that declares its encoding.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ARTICLE_URL = re.compile(
    r"/(19|20)\d\d[/-](0?[1-9]|1[0-2])([/-]|$)"  # a date in the path
    r"|/[^/]*\w-\w[^/]*-\w[^/]*-\w[^/]*(\.s?html?)?/?$"  # a long hyphenated slug
    r"|\d{5,}(\.s?html?)?/?$"  # a numeric article id
)
_INDEX_URL = re.compile(
    r"/(tags?|topics?|category|categories|section|sections|authors?|archives?|search|page)"
    r"(/|$)|[?&](tag|category|s|q)=|[?&](page|p)=([2-9]|\d\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageSignals:
    """What the page says of itself, as measured by :func:`judge_page`."""

    declared: str | None  # e.g. "og:type=article", "JSON-LD NewsArticle"
    listing: str | None  # e.g. "JSON-LD CollectionPage"
    published: str | None  # where a publication date was found
    body_chars: int  # paragraph text (no link text) in the best block
    body_paragraphs: int  # paragraphs in that block
    body_headlines: int  # linked headlines among that block's paragraphs
    cards: int  # other, small blocks of text with a linked headline: teaser cards
    paragraph_chars: int  # paragraph text (no link text) in the whole page
    links: int  # links in the page's content (outside nav, header, footer, aside)
    headline_links: int  # of those, links in or around a heading: teasers
    url_hint: int  # +1 article-shaped URL, -1 index-shaped, 0 neither


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePage:
    """The page looks like one article; ``reason`` says why."""

    reason: str
    signals: PageSignals

    @property
    def is_article(self) -> bool:
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class NotArticle:
    """The page does not look like an article.

    ``reason`` starts with a code: ``index_page`` (mostly links and teasers),
    ``listing`` (declares itself a collection), ``thin_page`` (too little text) or
    ``unparsable``, e.g. ``"index_page: 38 links, 120 chars of paragraph text"``.
    """

    reason: str
    signals: PageSignals | None

    @property
    def is_article(self) -> bool:
        return False

    @property
    def code(self) -> str:
        return self.reason.partition(":")[0]


Verdict = ArticlePage | NotArticle


def judge_page(body: bytes, *, url: str = "", encoding: str | None = None) -> Verdict:
    """Tell whether the HTML ``body`` (fetched from ``url``) is an article page."""
    root = _parse(body, encoding)
    if root is None:
        return NotArticle(reason="unparsable: the body is not HTML lxml can read", signals=None)
    signals = measure_page(root, url)
    return decide(signals)


def measure_page(root: lxml.html.HtmlElement, url: str = "") -> PageSignals:
    """Measure a parsed page's signals (the tree is changed: furniture is removed)."""
    declared, listing, ld_date = _json_ld(root)
    metas = _metas(root)
    og_type = metas.get("og:type", "").strip().lower()
    if declared is None and og_type == "article":
        declared = "og:type=article"
    if declared is None:
        declared = _microdata_article(root)
    published = ld_date or _date_meta(metas) or _date_element(root)

    # Lists first: dropping a subtree while iterating would cut the walk short.
    for element in [*root.iter(*_NOT_CONTENT), *root.iter(*_CHROME)]:
        if element.getparent() is not None:
            element.drop_tree()
    body_chars, body_paragraphs, body_headlines, cards, paragraph_chars = _paragraphs(root)
    links = root.xpath("//a[@href]")
    headline_links = sum(1 for a in links if _is_headline_link(a))
    return PageSignals(
        declared=declared,
        listing=listing,
        published=published,
        body_chars=body_chars,
        body_paragraphs=body_paragraphs,
        body_headlines=body_headlines,
        cards=cards,
        paragraph_chars=paragraph_chars,
        links=len(links),
        headline_links=headline_links,
        url_hint=_url_hint(url),
    )


def decide(s: PageSignals) -> Verdict:
    """The verdict on measured signals; each rule says in its reason what decided it."""
    text = f"{s.links} links, {s.paragraph_chars} chars of paragraph text"
    if s.body_chars < _THIN:
        code = "index_page" if s.links >= 10 or s.headline_links >= 3 else "thin_page"
        return NotArticle(reason=f"{code}: {text} ({s.body_chars} in its longest block)", signals=s)
    if s.body_headlines >= 3 and s.body_headlines * 2 >= s.body_paragraphs:
        return NotArticle(
            reason=f"index_page: {s.body_headlines} linked headlines among the longest "
            f"block's paragraphs; {text}",
            signals=s,
        )
    if s.listing and not s.declared:
        return NotArticle(reason=f"listing: {s.listing}; {text}", signals=s)

    score = 0
    why: list[str] = []
    if s.declared:
        score += 3
        why.append(s.declared)
    if s.published:
        score += 1
        why.append(f"published date in {s.published}")
    if s.body_chars >= _LONG:
        score += 2
    elif s.body_chars >= _SHORT:
        score += 1
    why.append(f"{s.body_chars} chars of body text")
    # Teaser cards around a short block: a section page with a standfirst, or with
    # one long blurb. Real articles have related-story cards too, beside a body
    # that dwarfs them.
    if s.cards >= _MANY_CARDS and s.body_chars < _CARDS_BODY:
        score -= 3
        why.append(f"{s.cards} teaser cards")
    if s.url_hint:
        score += s.url_hint
        why.append("article-shaped URL" if s.url_hint > 0 else "index-shaped URL")
    if score >= 2:
        return ArticlePage(reason=", ".join(why), signals=s)
    return NotArticle(reason=f"index_page: {text}; {', '.join(why)}", signals=s)


# -- parsing -------------------------------------------------------------------------


def _parse(body: bytes, encoding: str | None) -> lxml.html.HtmlElement | None:
    if not body.strip():
        return None
    markup: bytes | str = body
    if encoding:
        # Decode here: libxml2 knows fewer encoding names than Python (and Scrapy).
        try:
            markup = _XML_DECLARATION.sub("", body.decode(encoding, errors="replace"), count=1)
        except LookupError:
            markup = body
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(markup, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
    return root if isinstance(root, lxml.html.HtmlElement) else None


def _metas(root: lxml.html.HtmlElement) -> dict[str, str]:
    """``<meta>`` content by lower-case property, name or itemprop (first one wins)."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content)
    return found


def _date_meta(metas: dict[str, str]) -> str | None:
    for name in sorted(_DATE_METAS & metas.keys()):
        if _looks_like_date(metas[name]):
            return f"meta {name}"
    return None


def _date_element(root: lxml.html.HtmlElement) -> str | None:
    """A publication date marked up in the body: itemprop or one or two <time> tags.

    Index pages date every teaser, so many ``<time>`` elements are not a signal.
    """
    for element in root.xpath("//*[@itemprop='datePublished']"):
        value = element.get("datetime") or element.get("content") or element.text_content()
        if _looks_like_date(value):
            return "itemprop datePublished"
    times = [t for t in root.iter("time") if _looks_like_date(t.get("datetime", ""))]
    if 1 <= len(times) <= 2:
        return "<time datetime>"
    return None


def _looks_like_date(value: str | None) -> bool:
    return bool(value and re.search(r"(19|20)\d\d", value))


# -- structured data -----------------------------------------------------------------


def _json_ld(root: lxml.html.HtmlElement) -> tuple[str | None, str | None, str | None]:
    """(article type declared, listing type declared, where datePublished was) from JSON-LD."""
    declared = listing = published = None
    for script in root.xpath("//script[@type]"):
        if script.get("type", "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; it just says nothing
        for item in _ld_items(data):
            types = {t.lower() for t in _ld_types(item)}
            if declared is None and types & ARTICLE_TYPES:
                declared = f"JSON-LD {_ld_types(item)[0]}"
                if published is None and _looks_like_date(_ld_text(item.get("datePublished"))):
                    published = "JSON-LD datePublished"
            if listing is None and types & LISTING_TYPES:
                listing = f"JSON-LD {next(t for t in _ld_types(item) if t.lower() in types)}"
    return declared, listing, published


def _ld_items(data: Any) -> Iterator[dict[str, Any]]:
    """The objects a JSON-LD block describes the page with: top level, lists, @graph,
    and a page's ``mainEntity`` (but not the members of an ItemList)."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_items(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if isinstance(graph, list | dict):
            yield from _ld_items(graph)
        main = data.get("mainEntity")
        types = {t.lower() for t in _ld_types(data)}
        if isinstance(main, dict | list) and not types & {"itemlist"}:
            yield from _ld_items(main)


def _ld_types(item: dict[str, Any]) -> list[str]:
    value = item.get("@type")
    values = value if isinstance(value, list) else [value]
    # Types may be written as full IRIs: "http://schema.org/NewsArticle".
    return [v.rstrip("/").rsplit("/", 1)[-1] for v in values if isinstance(v, str) and v]


def _ld_text(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def _microdata_article(root: lxml.html.HtmlElement) -> str | None:
    """One schema.org article in microdata (several are the cards of an index page)."""
    found = [
        element.get("itemtype", "")
        for element in root.xpath("//*[@itemscope][@itemtype]")
        if element.get("itemtype", "").rstrip("/").rsplit("/", 1)[-1].lower() in ARTICLE_TYPES
    ]
    if len(found) == 1:
        return f"microdata {found[0].rstrip('/').rsplit('/', 1)[-1]}"
    return None


# -- text layout ---------------------------------------------------------------------


def _paragraphs(root: lxml.html.HtmlElement) -> tuple[int, int, int, int, int]:
    """(best block's text chars, its paragraphs, its linked headlines, teaser cards
    elsewhere, all text chars).

    A paragraph is any element holding at least ``_MIN_PARAGRAPH`` characters of its
    own running text (``<p>``, or a ``<div>`` of ``<br>``-separated lines), without
    link text: a teaser's "Read more" is not body. A block is the parent of
    paragraphs; an article body is one block holding much of that text.
    """
    blocks: dict[lxml.html.HtmlElement, list[int]] = {}
    total = 0
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in _INLINE:
            continue
        chars = len(" ".join(_own_text(element).split()))
        if chars < _MIN_PARAGRAPH:
            continue
        total += chars
        parent = element.getparent()
        if parent is not None:
            block = blocks.setdefault(parent, [0, 0])
            block[0] += chars
            block[1] += 1
    if not blocks:
        return 0, 0, 0, 0, total
    best, (chars, count) = max(blocks.items(), key=lambda item: item[1][0])
    headlines = sum(1 for a in best.iter("a") if a.get("href") and _is_headline_link(a))
    # Teaser cards: small blocks of text, each under (or beside) its linked headline.
    cards = sum(
        1
        for block, (block_chars, _) in blocks.items()
        if block is not best
        and block_chars < _SHORT
        and any(a.get("href") and _is_headline_link(a) for a in block.iter("a"))
    )
    return chars, count, headlines, cards, total


def _own_text(element: lxml.html.HtmlElement) -> str:
    """The text directly in ``element`` and its inline children, outside links."""
    pieces = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag in _INLINE and child.tag != "a":
            pieces.append(_own_text(child))
        pieces.append(child.tail or "")
    return " ".join(pieces)


def _is_headline_link(a: lxml.html.HtmlElement) -> bool:
    """A link that is a teaser's headline: inside a heading, or wrapping one."""
    if any(True for _ in a.iter(*_HEADINGS)):
        return True
    parent = a.getparent()
    depth = 0
    while parent is not None and depth < 3:
        if parent.tag in _HEADINGS:
            return True
        parent = parent.getparent()
        depth += 1
    return False


def _url_hint(url: str) -> int:
    if not url:
        return 0
    parts = urlsplit(url)
    path = parts.path or "/"
    if path == "/" and not parts.query:
        return -1  # a home page
    if _INDEX_URL.search(path + ("?" + parts.query if parts.query else "")):
        return -1
    return 1 if _ARTICLE_URL.search(path) else 0
