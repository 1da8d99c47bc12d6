"""Clean the extracted text: remove the boilerplate trafilatura leaves in the body.

Interface (filled in by the cleaning work, issue 3): ``clean_text`` takes the raw
extraction (paragraphs separated by newlines) and returns the kept text and every
removed paragraph with the rule that removed it, so a cleaning can be explained and
re-run from the stored raw text.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def clean_text(text: str, *, title: str | None = None) -> Cleaning:
    """Clean ``text`` paragraph by paragraph (no rules yet: everything is kept)."""
    return Cleaning(text=text)
