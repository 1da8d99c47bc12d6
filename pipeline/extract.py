"""Extract an article's main text and metadata from a fetched page with trafilatura.

Plain-text pages (local ``.txt`` files) skip trafilatura: their text is the article,
cleaned by the same rules. Every article is keyed by its canonical URL: the page's
rel=canonical or og:url where it is trusted (``trusted_canonical``), else the URL
that was asked for; the other URLs it was met under become its aliases.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from readability import Document as ReadabilityDocument
from readability.readability import Unparseable

from crawler.errors import BadURLError
from crawler.records import FeedEntry, FetchedPage
from crawler.urls import canonical_url, same_site
from pipeline.clean import clean_text
from pipeline.cleanrules import is_sentence, menu_fragment, words
from pipeline.metadata import PageMetadata, declared_urls, page_metadata
from pipeline.records import Article, Failure
from pipeline.settings import PipelineSettings
from pipeline.text import content_hash, normalise_text

logger = logging.getLogger(__name__)


def extract_article(page: FetchedPage, settings: PipelineSettings) -> Article | Failure:
    """Turn a fetched page into an Article, or a Failure that carries its reason.

    Title, authors and date come from the page and fall back to the feed entry's,
    then to the bylines the cleaner removed from the body. The text is cleaned
    (``pipeline.clean``); the extraction before cleaning is kept as ``raw_text``.
    A ``text/plain`` page is taken as the article's text itself (``extract_text_article``).
    """
    if is_plain_text(page):
        return extract_text_article(page, settings)
    html = decode_body(page.body, page.encoding)
    tree = trafilatura.load_html(html)
    if tree is None:
        return _failure(page, "unparsable_html", "the body is not parsable HTML")
    # Metadata first: text extraction prunes the tree it is given.
    found = page_metadata(tree, page.final_url)
    url, aliases = page_identity(page, declared_urls(tree, page.final_url))
    try:
        raw = extract_main_text(tree, html, page.final_url, settings)
    except ExtractionError as exc:
        return _failure(page, "extraction_error", str(exc))
    meta = merge_metadata(found, page.hint)
    cleaning = clean_text(raw, title=meta.title)
    text = cleaning.text
    if len(text) < settings.min_text_chars:
        return _failure(
            page,
            "no_main_text",
            f"{len(text)} characters of main text (< {settings.min_text_chars})",
        )
    return Article(
        url=url,
        final_url=page.final_url,
        source=page.source,
        title=meta.title or "",
        authors=meta.authors or cleaning.authors,
        published_at=meta.published_at,
        fetched_at=page.fetched_at,
        language=meta.language,
        text=text,
        raw_text=raw,
        content_hash=content_hash(text),
        aliases=aliases,
    )


def is_plain_text(page: FetchedPage) -> bool:
    """Whether the page is plain text (its content type says ``text/plain``)."""
    kind = page.headers.get("content-type", "").partition(";")[0].strip().lower()
    return kind == "text/plain"


# A first line this short that does not end like a sentence is a plain-text
# article's headline, the way a title heads a text file.
_TITLE_WORDS = range(3, 21)


def extract_text_article(page: FetchedPage, settings: PipelineSettings) -> Article | Failure:
    """Turn a plain-text page (one article, like the seeds) into an Article.

    The whole text is the raw extraction, cleaned by the same rules as a web page's.
    The title is a short first line that is not a sentence, else the headline the
    cleaner found repeated near the start, else empty; there is no date or language.
    """
    raw = normalise_text(decode_body(page.body, page.encoding))
    paragraphs = raw.split("\n")
    first = paragraphs[0]
    title = (
        first
        if len(paragraphs) > 1 and words(first) in _TITLE_WORDS and not is_sentence(first)
        else None
    )
    cleaning = clean_text(raw, title=title)
    if title is None:
        title = next((r.paragraph for r in cleaning.removed if r.rule == "headline"), None)
    text = cleaning.text
    if len(text) < settings.min_text_chars:
        return _failure(
            page,
            "no_main_text",
            f"{len(text)} characters of text (< {settings.min_text_chars})",
        )
    url, aliases = page_identity(page, ())
    return Article(
        url=url,
        final_url=page.final_url,
        source=page.source,
        title=title or "",
        authors=cleaning.authors,
        published_at=page.hint.published_at if page.hint else None,
        fetched_at=page.fetched_at,
        language=page.hint.language if page.hint else None,
        text=text,
        raw_text=raw,
        content_hash=content_hash(text),
        aliases=aliases,
    )


def page_identity(page: FetchedPage, declared: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The article's URL and the other URLs it was met under (its aliases).

    The URL is the first declared URL (rel=canonical, og:url) that is trusted for
    this page, else the URL that was asked for; the asked-for URL and the one the
    fetch ended on are aliases whenever they differ from it.
    """
    url = next((d for d in declared if trusted_canonical(d, page.final_url)), page.url)
    met = (_spelling(page.url), _spelling(page.final_url))
    return url, tuple(u for u in dict.fromkeys(met) if u != url)


def trusted_canonical(declared: str, page_url: str) -> bool:
    """Whether a page at ``page_url`` may name ``declared`` as its canonical URL.

    Only within one site (``crawler.urls.same_site``: one registered domain, so
    ``www.``, ``m.`` and ``amp.`` variants fold together). A syndication partner's
    copy often points at the original publisher; following that would fold the copy
    into the original's document and hide it from the copy clusters. A local file
    has no site: the URL it declares is the only web identity it has. A site's
    home page as the canonical of a deeper page is a template bug, not an identity.
    """
    target, page = urlsplit(declared), urlsplit(page_url)
    if target.path == "/" and not target.query and page.path not in ("", "/"):
        return False
    return page.scheme == "file" or same_site(declared, page_url)


def _spelling(url: str) -> str:
    """``url`` in canonical form; a URL that is not http(s) (a local file) as it is."""
    try:
        return canonical_url(url)
    except BadURLError:
        return url


class ExtractionError(Exception):
    """trafilatura or lxml gave up on the page's markup."""


# Elements whose class or id names them as a caption, credit, byline, share bar,
# newsletter box or list of related links. trafilatura drops many of these by its own
# lists; these are the ones news templates use that slip through. An element holding
# several paragraphs is never one of them (a wrapper named "share-container" may hold
# the whole article), so those are left alone.
_HINT_NAMES = (
    "captions?|credits?|photo-?credit|byline|newsletter|related|share|sharing|social-share"
    "|read-?more|recommended|promo|signup|subscribe|subscription|latest-box|most-?popular"
    "|most-?read|more-stories|read-?next|up-?next|recirc|taboola|outbrain"
)
_HINT = re.compile(rf"(?:^|[\s_-])(?:{_HINT_NAMES})(?:$|[\s_-])", re.IGNORECASE)
_HINT_TAGS = ("div", "p", "span", "section", "ul", "aside", "figure", "figcaption")


def drop_marked_boilerplate(tree: HtmlElement) -> int:
    """Remove captions and the elements whose class or id names them as boilerplate.

    Returns how many elements went.
    """
    marked = []
    for element in tree.iter(_HINT_TAGS):
        if element.tag == "figcaption":
            marked.append(element)
            continue
        names = element.get("class")
        ident = element.get("id")
        if ident:
            names = f"{names} {ident}" if names else ident
        if names and _HINT.search(names) and len(element.findall(".//p")) < 3:
            marked.append(element)
    # Dropped after the walk, not during it: the walk must not lose its place.
    for element in marked:
        if element.getparent() is not None:
            element.drop_tree()
    return len(marked)


# When more than this share of the text sits in menu-like scraps, a navigation
# block has probably been taken for the article; then readability gives a second
# opinion (trafilatura's full mode finds the same text on such pages, four times slower).
MENU_LIKE_SHARE = 0.6


# When the extraction holds less than this share of the text in the page's <p>
# elements, trafilatura has probably kept one block of a split article; then
# readability (a different algorithm, scoring the page's containers) is asked too.
SHORT_SHARE = 0.4


def extract_main_text(
    tree: HtmlElement, html: str, url: str | None, settings: PipelineSettings
) -> str:
    """The page's main text, paragraphs separated by newlines (before cleaning).

    trafilatura's fast mode first; a second opinion only where the result looks
    wrong, so the pages that look right pay nothing for it.
    """
    # trafilatura drops these anyway, but only after copying the whole tree several
    # times; news pages carry megabytes of inline script, so dropping them first
    # makes every copy and pass cheaper. (The metadata, which reads JSON-LD scripts,
    # has been taken already.)
    etree.strip_elements(tree, "script", "style", "noscript", "template", with_tail=False)
    paragraph_chars = len("".join(tree.xpath("//p//text()")))
    drop_marked_boilerplate(tree)
    text = _trafilatura_text(tree, url, settings)
    if text and menu_share(text) > MENU_LIKE_SHARE:
        second = readability_text(html)
        if second and len(second) < len(text) / 2 and menu_share(second) < 0.3:
            logger.debug("extract %s: menu-like text, took readability's result", url)
            text = second
    elif len(text) < SHORT_SHARE * paragraph_chars:
        second = readability_text(html)
        # A fuller version of the same article contains the short one; a longer
        # text that does not is some other block of the page.
        if (
            len(second) > 1.5 * len(text)
            and menu_share(second) < 0.3
            and overlap(text, second) >= 0.8
        ):
            logger.debug("extract %s: short text, took readability's result", url)
            text = second
    return text


_READABILITY_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")


def readability_text(html: str) -> str:
    """The main text as readability-lxml finds it, one paragraph per block element."""
    try:
        summary = ReadabilityDocument(html).summary(html_partial=True)
        root = lxml.html.fragment_fromstring(summary, create_parent="div")
    except (ValueError, TypeError, etree.ParserError, Unparseable) as exc:
        logger.debug("readability gave up: %s", exc)
        return ""
    blocks = []
    for element in root.iter(*_READABILITY_BLOCKS):
        # A block inside another block (a <p> in an <li>) is already in its parent's text.
        if any(parent.tag in _READABILITY_BLOCKS for parent in element.iterancestors()):
            continue
        blocks.append(element.text_content())
    return normalise_text("\n".join(blocks))


_WORD = re.compile(r"\w+")


def overlap(part: str, whole: str) -> float:
    """The share of ``part``'s words that occur in ``whole`` (1.0 for an empty part)."""
    words = _WORD.findall(part.casefold())
    if not words:
        return 1.0
    vocabulary = set(_WORD.findall(whole.casefold()))
    return sum(w in vocabulary for w in words) / len(words)


def menu_share(text: str) -> float:
    """The share of the text's characters in short unpunctuated scraps and list items."""
    paragraphs = [p for p in text.split("\n") if p]
    total = sum(len(p) for p in paragraphs)
    scraps = sum(len(p) for p in paragraphs if p.startswith("- ") or menu_fragment(p))
    return scraps / total if total else 0.0


def _trafilatura_text(tree: HtmlElement, url: str | None, settings: PipelineSettings) -> str:
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            with_metadata=False,  # page_metadata() does the part we need
            # trafilatura's own dedup cache stays off: it is global to the process
            # and its verdicts depend on the order pages arrive in.
            deduplicate=False,
            # fast skips the readability/jusText comparison on every page: on the
            # extraction benchmark it is as accurate (F1 0.960 vs 0.956) and 1.45x
            # quicker, which is what lets extraction keep up with fetching.
            fast=True,
            favor_precision=settings.favor_precision,
        )
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # trafilatura and lxml raise these on pathological markup; one page must
        # not stop a run, so it becomes a recorded failure.
        raise ExtractionError(f"{type(exc).__name__}: {exc}") from exc
    # bare_extraction returns a Document (a dict only when asked with as_dict=True).
    body = getattr(document, "text", None) if document is not None else None
    return normalise_text(body or "")


def decode_body(body: bytes, encoding: str | None) -> str:
    """Decode with the encoding the fetcher detected; undecodable bytes become U+FFFD."""
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # an encoding name Python does not know
        return body.decode("utf-8", errors="replace")


def merge_metadata(found: PageMetadata, hint: FeedEntry | None) -> PageMetadata:
    """Prefer the page's metadata; fill gaps from the feed entry.

    Pages often give only a day while the feed gives the exact time: when both name
    the same day, the feed's timestamp is the more precise one.
    """
    if hint is None:
        return found
    published = found.published_at or hint.published_at
    if (
        found.published_at is not None
        and hint.published_at is not None
        and found.published_at.time() == datetime.min.time()
        and found.published_at.date() == hint.published_at.date()
    ):
        published = hint.published_at
    return PageMetadata(
        title=found.title or " ".join((hint.title or "").split()) or None,
        authors=found.authors or hint.authors,
        published_at=published,
        language=found.language or hint.language,
    )


def _failure(page: FetchedPage, reason: str, detail: str) -> Failure:
    logger.debug("extract %s (%s): %s: %s", page.url, page.source, reason, detail)
    return Failure(
        url=page.url,
        source=page.source,
        stage="extract",
        reason=reason,
        detail=detail,
        status=page.status,
        at=page.fetched_at,
    )
