"""Learned per-host boilerplate: paragraphs a host repeats verbatim on many pages.

A paragraph that recurs, after normalisation, in several distinct documents of one
host is that host's boilerplate ("Follow us on ...", a standard disclaimer, a promo
line) even when no rule in ``pipeline.clean`` describes it. This module holds the
pure part: normalising and hashing paragraphs, and removing the paragraphs a
``KnownParagraphs`` store says are known. The counts themselves live in the database
(``storage.boilerplate``), so the knowledge survives restarts and grows with the
corpus; the stage that wires both is ``newsingest.cleaning``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from pipeline.clean import Cleaning, Removal

LEARNED_RULE = "learned"

_DIGITS = re.compile(r"\d+")


class BoilerplateSettings(BaseModel):
    """The ``[boilerplate]`` section: when a repeated paragraph counts as boilerplate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Distinct documents of one host that must contain a paragraph before it is
    # boilerplate there. Two is too few: a quote repeated in a follow-up story is not.
    min_documents: int = Field(3, ge=2)
    # ... and at least this share of the host's counted documents (0 = no share needed).
    # Raising it makes large hosts need more evidence, at the price of learning later.
    min_share: float = Field(0.0, ge=0.0, le=1.0)
    # Paragraphs longer than this are not counted: boilerplate lines are short, and
    # every counted paragraph costs a row per document.
    max_chars: int = Field(1000, ge=1)
    # Learned paragraphs that would remove more than this share of a document's text
    # are left in: a page that is mostly "boilerplate" is a copy of another page of
    # the same host (a story filed under two sections), not a template line.
    max_removed_share: float = Field(0.5, gt=0.0, le=1.0)


class KnownParagraphs(Protocol):
    """Where learned boilerplate is looked up (``storage.boilerplate`` supplies it)."""

    def known_paragraphs(self, host: str, hashes: Collection[int]) -> set[int]:
        """Of ``hashes`` (see ``paragraph_hash``), those that are boilerplate on ``host``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Paragraph:
    """One paragraph of a text with the hash it is counted under."""

    text: str
    hash: int


def host_key(url: str) -> str:
    """The host a page's boilerplate is learned for: lower-case name, no ``www.``.

    An explicit port is kept, since two servers on one machine are two sites.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    try:
        port = parts.port
    except ValueError:  # a malformed port: the name alone still groups the pages
        port = None
    return f"{host}:{port}" if port is not None else host


def normalise_paragraph(paragraph: str) -> str:
    """Fold what varies between a template's renderings: case, spacing, numbers.

    NFKC turns look-alike characters (non-breaking spaces, full-width letters) into
    one form, and every run of digits becomes ``0``, so "(c) 2023" and "(c) 2024",
    or "12 comments" and "3 comments", are one paragraph.
    """
    text = unicodedata.normalize("NFKC", paragraph).casefold()
    return " ".join(_DIGITS.sub("0", text).split())


def paragraph_hash(paragraph: str) -> int:
    """A 64-bit signed hash of the normalised paragraph (it fits a BIGINT column)."""
    digest = hashlib.blake2b(normalise_paragraph(paragraph).encode("utf-8"), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def split_paragraphs(text: str) -> list[str]:
    """The non-blank paragraphs of ``text`` (one per line), stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def content_key(text: str) -> int:
    """A key that copies of one story share: a hash of its two longest paragraphs.

    A host may file one story under several URLs (two sections, a regional edition);
    counted as distinct documents, its paragraphs would look like the template's.
    Copies nearly always share their longest paragraphs and different stories rarely
    do, so documents with one key count once. Two paragraphs rather than one, so
    that short pages whose longest line is the template's still count apart.
    """
    longest = sorted(split_paragraphs(text), key=lambda p: (-len(p), p))[:2]
    return paragraph_hash("\n".join(sorted(normalise_paragraph(p) for p in longest)))


def countable_paragraphs(text: str, settings: BoilerplateSettings) -> list[Paragraph]:
    """The distinct paragraphs of ``text`` worth counting, first occurrence first.

    A paragraph made only of digits and punctuation normalises to almost nothing
    and is still counted: stray counters are exactly what a host repeats.
    """
    seen: dict[int, Paragraph] = {}
    for paragraph in split_paragraphs(text):
        if len(paragraph) > settings.max_chars:
            continue
        digest = paragraph_hash(paragraph)
        seen.setdefault(digest, Paragraph(text=paragraph, hash=digest))
    return list(seen.values())


def remove_known(text: str, known: Collection[int], settings: BoilerplateSettings) -> Cleaning:
    """Remove the paragraphs of ``text`` whose hash is in ``known``.

    Each removed paragraph is reported as ``Removal(paragraph, rule="learned")``.
    When the known paragraphs would take more than ``max_removed_share`` of the
    text's characters, nothing is removed (see ``BoilerplateSettings``).
    """
    if not known:
        return Cleaning(text=text)
    kept: list[str] = []
    removed: list[Removal] = []
    for paragraph in split_paragraphs(text):
        if paragraph_hash(paragraph) in known:
            removed.append(Removal(paragraph=paragraph, rule=LEARNED_RULE))
        else:
            kept.append(paragraph)
    if not removed:
        return Cleaning(text=text)
    total = sum(len(p) for p in split_paragraphs(text))
    if sum(len(r.paragraph) for r in removed) > settings.max_removed_share * total:
        return Cleaning(text=text)
    return Cleaning(text="\n".join(kept), removed=tuple(removed))


def remove_learned(
    text: str, url: str, index: KnownParagraphs, settings: BoilerplateSettings
) -> Cleaning:
    """Remove from ``text`` the paragraphs ``index`` knows as boilerplate of ``url``'s host."""
    hashes = {paragraph_hash(p) for p in split_paragraphs(text)}
    if not settings.enabled or not hashes:
        return Cleaning(text=text)
    return remove_known(text, index.known_paragraphs(host_key(url), hashes), settings)
