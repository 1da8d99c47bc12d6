"""Clean the extracted text: remove the boilerplate trafilatura leaves in the body.

``clean_text`` takes the raw extraction (paragraphs separated by newlines) and returns
the kept text and every removed paragraph with the rule that removed it, so a
cleaning can be explained and re-run from the stored raw text. The one-paragraph
rules live in ``pipeline.cleanrules``; the rules here need the paragraph's place in
the text: the edges, the headline, the line after a caption, the list after
"Related".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.cleanrules import (
    LINE_RULES,
    MAX_RULE_WORDS,
    RELATED_HEADER,
    byline_names,
    is_sentence,
    menu_fragment,
    words,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """One paragraph the cleaner removed, and the name of the rule that did."""

    paragraph: str
    rule: str  # e.g. "ai_notice", "caption_credit", "learned:host"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleaning:
    """The outcome of cleaning one text."""

    text: str  # kept paragraphs, joined by "\n"
    removed: tuple[Removal, ...] = ()
    authors: tuple[str, ...] = ()  # names found in byline paragraphs that were removed


# How far into the text a repeated headline is looked for.
HEADLINE_WINDOW = 8
_LIST_ITEM = re.compile(r"^(?:[-•·*▪►>]|\d+[.)])\s")
_FOLD = re.compile(r"[\W_]+")
# Sites append their name to <title>: "Headline | Site", "Headline - Site".
_TITLE_SUFFIX = re.compile(r"\s+[|–—:-]\s+")


def clean_text(text: str, *, title: str | None = None) -> Cleaning:
    """Clean ``text`` paragraph by paragraph; ``title`` finds the headline in the body."""
    paragraphs = [line.strip() for line in text.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    verdicts: list[str | None] = [_line_rule(p) for p in paragraphs]
    _mark_caption_tails(paragraphs, verdicts)
    _mark_headline(paragraphs, verdicts, title)
    _mark_related_lists(paragraphs, verdicts)
    _mark_edges(paragraphs, verdicts)
    kept = [p for p, rule in zip(paragraphs, verdicts, strict=True) if rule is None]
    removed = tuple(
        Removal(paragraph=p, rule=rule)
        for p, rule in zip(paragraphs, verdicts, strict=True)
        if rule is not None
    )
    authors: list[str] = []
    for removal in removed:
        if removal.rule in ("byline", "contribution"):
            authors.extend(n for n in byline_names(removal.paragraph) if n not in authors)
    return Cleaning(text="\n".join(kept), removed=removed, authors=tuple(authors))


def _line_rule(paragraph: str) -> str | None:
    # Every one-paragraph rule has a word limit below this: a long paragraph is
    # article text, and most paragraphs are long, so this is also the fast path.
    if words(paragraph) > MAX_RULE_WORDS:
        return None
    for rule in LINE_RULES:
        if rule.test(paragraph):
            return rule.name
    return None


def _fold(text: str) -> str:
    return _FOLD.sub(" ", text.casefold()).strip()


def _mark_headline(paragraphs: list[str], verdicts: list[str | None], title: str | None) -> None:
    """The headline repeated inside the body, near its start.

    With a title: paragraphs equal to it (or to its part before a site-name suffix)
    that do not end with a full stop.
    Without one: a short line that is not a sentence and occurs twice near the start.
    """
    window = range(min(HEADLINE_WINDOW, len(paragraphs)))
    if title:
        headlines = {_fold(title)} | {_fold(part) for part in _TITLE_SUFFIX.split(title)}
        headlines = {h for h in headlines if len(h.split()) >= 3}
        for i in window:
            # A headline does not end with a full stop; a first sentence that a site
            # also uses as its title does, and it is article text.
            if (
                verdicts[i] is None
                and _fold(paragraphs[i]) in headlines
                and not paragraphs[i].endswith(".")
            ):
                verdicts[i] = "headline"
        return
    folded = [_fold(paragraphs[i]) for i in window]
    for i in window:
        if (
            verdicts[i] is None
            and folded.count(folded[i]) > 1
            and 3 <= words(paragraphs[i]) <= 25
            and not paragraphs[i].endswith(".")
        ):
            verdicts[i] = "headline"


def _mark_caption_tails(paragraphs: list[str], verdicts: list[str | None]) -> None:
    """The caption text a credit line brings with it: a short non-sentence right after.

    Only one line per credit, so a run of short lines after a photo is not swallowed.
    """
    credits = [rule == "caption_credit" for rule in verdicts]
    for i in range(1, len(paragraphs)):
        if (
            verdicts[i] is None
            and credits[i - 1]
            and words(paragraphs[i]) <= 25
            and not is_sentence(paragraphs[i])
            and not _LIST_ITEM.match(paragraphs[i])
        ):
            verdicts[i] = "caption_credit"


def _mark_related_lists(paragraphs: list[str], verdicts: list[str | None]) -> None:
    """The list of links under a "Related" or "Read more" header."""
    i = 0
    while i < len(paragraphs):
        if verdicts[i] in ("prompt", "ui_fragment") and RELATED_HEADER.match(paragraphs[i]):
            j = i + 1
            while j < len(paragraphs) and (
                verdicts[j] is not None
                or _LIST_ITEM.match(paragraphs[j])
                or (words(paragraphs[j]) <= 20 and not is_sentence(paragraphs[j]))
            ):
                if verdicts[j] is None:
                    verdicts[j] = "related_list"
                j += 1
            i = j
        else:
            i += 1


def _mark_edges(paragraphs: list[str], verdicts: list[str | None]) -> None:
    """Menu scraps, UI words and counters before the first and after the last sentence."""
    for order in (range(len(paragraphs)), range(len(paragraphs) - 1, -1, -1)):
        for i in order:
            if verdicts[i] is not None:
                continue
            if not menu_fragment(paragraphs[i]):
                break
            verdicts[i] = "edge_fragment"
