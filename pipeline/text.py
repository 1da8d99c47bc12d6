"""Small pure helpers on text: normalisation and the content hash."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def normalise_text(text: str) -> str:
    """NFC, one space between words, one newline between paragraphs, no edge space."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", text).strip()


def content_hash(text: str) -> str:
    """A hash of the text that ignores case and white-space differences.

    Two fetches of one article that differ only in spacing or case are the same
    content, so a re-fetch does not count as an update.
    """
    folded = " ".join(normalise_text(text).casefold().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()
