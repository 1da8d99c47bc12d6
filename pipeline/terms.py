"""Turn an article into weighted terms: tokens, names, and TF-IDF vectors.

Pure functions over text. The story tier (``pipeline.stories``) compares articles and
stories by the cosine of these vectors; document frequencies come from storage.

Three kinds of term, told apart by a prefix so they never collide:

- plain words, lower-cased and lightly stemmed (``troop`` for "troops");
- names, ``n:`` + a run of two or more capitalised words (``n:kim_jong_un``): a cheap
  stand-in for named entities, which tell two events of the same kind apart (two
  earthquakes, two rehab check-ins) far better than the common words they share;
- nothing else: numbers stay plain words, since counts and scores identify events too.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

NAME_PREFIX = "n:"
# Longer "words" are URLs, hashes or encoded blobs: never shared by two reports, and
# too long for an index key (PostgreSQL refuses B-tree entries over about 2.7 kB).
MAX_WORD_CHARS = 40

# Words are runs of letters or digits; an apostrophe splits them, and the one-letter
# pieces that leaves ("Reid's" -> "Reid", "s") are dropped as too short.
_WORD = re.compile(r"[^\W_]+")
_YEAR = re.compile(r"(?:19|20)\d\d")
# A capitalised word: an upper-case letter, then lower-case ones, or a short acronym.
_CAP = r"(?:[^\W\d_a-z](?:[^\W\d_A-Z]|['’](?=[^\W\d_]))+[^\W\d_]*|[^\W\d_a-z]{2,4}\b)"
# Two or more capitalised words separated by single spaces or hyphens.
_NAME_RUN = re.compile(rf"(?<![^\W_])(?:{_CAP}[ -])+{_CAP}(?![^\W_])")

# Function words and the vocabulary of every news report ("said", "told", "reported"),
# which match everything and so tell stories apart by nothing.
STOPWORDS = frozenset(
    """
    a about above after again against all almost also although always am among an and
    another any are around as at be became because been before being below between both
    but by can cannot could did do does doing done down during each either else even ever
    every few for from further get gets got had has have having he her here hers herself
    him himself his how however i if in into is it its itself just least less like made
    make many may me might more most much must my myself neither no nor not now of off on
    once one only or other others our ours ourselves out over own per perhaps rather same
    shall she should since so some still such than that the their theirs them themselves
    then there these they this those though through thus to too under until up upon us
    very was we were what whatever when where whether which while who whom whose why will
    with within without would yet you your yours yourself yourselves
    said says say saying told tell according reported reports report reporting news
    week weeks day days year years time times today yesterday tomorrow monday tuesday
    wednesday thursday friday saturday sunday new two three first last well back
    mr mrs ms s t don didn doesn isn wasn aren weren won wouldn couldn shouldn ll ve re d
    """.split()  # noqa: SIM905  (a word list reads better as text)
)


def words(text: str) -> list[str]:
    """The text's word tokens in order, original case."""
    return _WORD.findall(text)


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: plural endings only.

    Heavier stemmers conflate too much for this purpose ("united" and "unit"), and
    plural forms are what most often split one term in two across outlets.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def plain_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords or one-letter words."""
    return [
        stem(w)
        for w in _WORD.findall(text.lower())
        if 1 < len(w) <= MAX_WORD_CHARS and w not in STOPWORDS
    ]


def names(text: str) -> list[str]:
    """Runs of two to four capitalised words, as ``n:``-prefixed terms.

    Leading and trailing stopwords are trimmed from a run ("The Hunger Games" ->
    "hunger_games"); a run never spans punctuation. Lines written in headline case
    or capitals are skipped: there every word is capitalised, so runs are not names.
    """
    found: list[str] = []
    for line in text.splitlines():
        runs = _NAME_RUN.findall(line)
        if not runs:
            continue
        tokens = _WORD.findall(line)
        if len(tokens) > 3 and sum(1 for t in tokens if t[0].isupper()) > 0.5 * len(tokens):
            continue
        for run in runs:
            parts = [w.lower() for w in _WORD.findall(run)]
            while parts and (parts[0] in STOPWORDS or len(parts[0]) < 2):
                parts.pop(0)
            while parts and (parts[-1] in STOPWORDS or len(parts[-1]) < 2):
                parts.pop()
            if 2 <= len(parts) <= 4 and all(len(w) <= MAX_WORD_CHARS for w in parts):
                found.append(NAME_PREFIX + "_".join(stem(w) for w in parts))
    return found


def lead(title: str, text: str, paragraphs: int = 1) -> str:
    """The first ``paragraphs`` non-empty lines of ``text``, after a repeat of the title.

    News is written with the event first: the lead says who, what, where and when,
    and later paragraphs bring background, often earlier events of the same kind.
    """
    lines = [line for line in (x.strip() for x in text.splitlines()) if line]
    if lines and title.strip() and lines[0] == title.strip():
        lines = lines[1:]
    return "\n".join(lines[:paragraphs])


def term_counts(
    title: str,
    text: str,
    *,
    title_weight: float,
    name_weight: float,
    year_weight: float = 1.0,
    lead_weight: float = 0.0,
    lead_paragraphs: int = 1,
) -> dict[str, float]:
    """Weighted term frequencies of an article: title, lead words and names count extra.

    A title word counts ``title_weight`` times on top of its occurrences in the body,
    and a word of the lead (``lead``) ``lead_weight`` times; each name found counts
    ``name_weight`` times (names in the title count both ways).
    """
    counts: Counter[str] = Counter(plain_terms(text))
    weighted: dict[str, float] = {t: float(n) for t, n in counts.items()}
    for term in weighted:
        if _YEAR.fullmatch(term):
            weighted[term] *= year_weight
    for term in plain_terms(title):
        weighted[term] = weighted.get(term, 0.0) + title_weight
    if lead_weight > 0 and lead_paragraphs > 0:
        for term in plain_terms(lead(title, text, lead_paragraphs)):
            weighted[term] = weighted.get(term, 0.0) + lead_weight
    if name_weight > 0:
        for name in names(title + ".\n" + text):
            weighted[name] = weighted.get(name, 0.0) + name_weight
    return weighted


def idf(df: int, documents: int) -> float:
    """Smoothed inverse document frequency (never zero, so early terms still count)."""
    return math.log((documents + 1) / (df + 1)) + 1.0


def tfidf_vector(
    counts: Mapping[str, float], frequencies: Mapping[str, int], documents: int
) -> dict[str, float]:
    """Unit-length TF-IDF vector with sublinear term frequency (1 + log tf)."""
    vector = {
        term: (1.0 + math.log(tf)) * idf(frequencies.get(term, 0), documents)
        for term, tf in counts.items()
        if tf >= 1.0
    }
    return normalise(vector)


def normalise(vector: Mapping[str, float]) -> dict[str, float]:
    """``vector`` scaled to unit length (an empty vector stays empty)."""
    norm = math.sqrt(sum(w * w for w in vector.values()))
    if norm == 0.0:
        return {}
    return {term: w / norm for term, w in vector.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two sparse vectors (their cosine when both are unit length)."""
    if len(a) > len(b):
        a, b = b, a
    # In ``a``'s order, not a set's: the sum must not depend on string hashing.
    return sum(w * b[term] for term, w in a.items() if term in b)


def top_terms(vector: Mapping[str, float], n: int) -> list[str]:
    """The ``n`` heaviest terms, ties broken by the term so the order is deterministic."""
    if len(vector) > n:
        # Find the n-th weight with a sort of bare floats (C speed), then order only
        # the terms at or above it: the same result as sorting every (weight, term).
        cut = heapq.nlargest(n, vector.values())[-1]
        items = [(t, w) for t, w in vector.items() if w >= cut]
    else:
        items = list(vector.items())
    items.sort(key=lambda tw: (-tw[1], tw[0]))
    return [t for t, _ in items[:n]]


def truncate(vector: Mapping[str, float], n: int) -> dict[str, float]:
    """The ``n`` heaviest entries of ``vector`` (deterministic on ties)."""
    return {t: vector[t] for t in top_terms(vector, n)}


def add_into(
    total: dict[str, float], vector: Iterable[tuple[str, float]], scale: float = 1.0
) -> None:
    """Add ``vector`` (pairs) into ``total`` in place, scaled."""
    for term, w in vector:
        total[term] = total.get(term, 0.0) + w * scale
