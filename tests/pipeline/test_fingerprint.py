"""Fingerprints: words, shingles, MinHash signatures, band keys, and the copy decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from newsingest.demo.articles import load_articles
from pipeline.copies import (
    Candidate,
    CopySettings,
    Member,
    decide_copy,
    representative,
)
from pipeline.fingerprint import (
    BANDS,
    SIGNATURE_BYTES,
    Fingerprint,
    band_keys,
    candidate_probability,
    estimate_jaccard,
    fingerprint_text,
    shingle_hashes,
    words,
)
from pipeline.text import content_hash

ARTICLES = {a.slug: a for a in load_articles()}
# A wire story (syndicated word for word in the demo newsroom) and two other outlets'
# reports of the same event.
WIRE = "\n".join(ARTICLES["hackers-exploit-critical-ie-bug-microsoft-promises-patch"].paragraphs)
SAME_EVENT = [
    "\n".join(ARTICLES[slug].paragraphs)
    for slug in (
        "microsoft-rushes-emergency-fix-to-address-internet-explorer",
        "microsoft-releases-out-of-cycle-patch-for-ie",
    )
]


def true_jaccard(a: str, b: str) -> float:
    left, right = set(shingle_hashes(words(a)).tolist()), set(shingle_hashes(words(b)).tolist())
    return len(left & right) / len(left | right)


def republished(text: str) -> str:
    """The wire story as another site runs it: a paragraph dropped, a credit line added."""
    paragraphs = text.split("\n")
    del paragraphs[3]
    return "\n".join(["Sign up for our newsletter.", *paragraphs, "Photo: JANE DOE/AFP"])


def test_words_ignore_case_punctuation_and_spacing() -> None:
    assert words("The  PM's\nplan — “bold”, she said.") == [
        "the",
        "pm",
        "s",
        "plan",
        "bold",
        "she",
        "said",
    ]
    assert fingerprint_text("A b, c d e!").signature == fingerprint_text("a  B c\nD e").signature


def test_shingles_keep_word_order_and_cover_short_texts() -> None:
    assert len(shingle_hashes(words("one two three four five"))) == 2
    assert len(shingle_hashes(words("just two"))) == 1  # shorter than a shingle: one
    forwards = set(shingle_hashes(words("a b c d")).tolist())
    backwards = set(shingle_hashes(words("d c b a")).tolist())
    assert forwards.isdisjoint(backwards)
    assert len(shingle_hashes([])) == 0


def test_signature_is_stable_and_sized() -> None:
    first, again = fingerprint_text(WIRE), fingerprint_text(WIRE)
    assert first == again
    assert len(first.signature) == SIGNATURE_BYTES
    assert len(first.band_keys) == BANDS
    assert first.content_hash == content_hash(WIRE)


def test_estimated_jaccard_follows_the_true_one() -> None:
    copy = republished(WIRE)
    for other in [copy, *SAME_EVENT]:
        estimate = estimate_jaccard(
            fingerprint_text(WIRE).signature, fingerprint_text(other).signature
        )
        assert estimate == pytest.approx(true_jaccard(WIRE, other), abs=0.12)


def test_copies_share_band_keys_and_other_reports_do_not() -> None:
    wire = set(fingerprint_text(WIRE).band_keys)
    assert len(wire & set(fingerprint_text(republished(WIRE)).band_keys)) >= 5
    for other in SAME_EVENT:
        assert not wire & set(fingerprint_text(other).band_keys)


def test_band_keys_change_only_for_the_bands_that_changed() -> None:
    signature = bytearray(fingerprint_text(WIRE).signature)
    before = band_keys(bytes(signature))
    signature[0] ^= 0xFF  # a minimum in the first band
    after = band_keys(bytes(signature))
    assert before[0] != after[0]
    assert before[1:] == after[1:]


def test_a_text_without_words_has_no_band_keys() -> None:
    assert fingerprint_text("— … —").band_keys == ()


def test_candidate_probability_favours_copies() -> None:
    assert candidate_probability(0.5) > 0.99
    assert candidate_probability(0.3) > 0.6
    assert candidate_probability(0.05) < 0.01


class ListIndex:
    """The NearDuplicateIndex protocol over a plain list (every stored text a candidate)."""

    def __init__(self, stored: Sequence[tuple[int, int, str]]) -> None:
        self.stored = [
            Candidate(
                document_id=doc,
                cluster_id=cluster,
                content_hash=fingerprint_text(body).content_hash,
                signature=fingerprint_text(body).signature,
            )
            for doc, cluster, body in stored
        ]

    def candidates(self, fingerprint: Fingerprint) -> Sequence[Candidate]:
        return self.stored


SETTINGS = CopySettings()


def test_decision_prefers_an_exact_copy_then_the_most_similar() -> None:
    index = ListIndex([(1, 10, SAME_EVENT[0]), (2, 20, republished(WIRE)), (3, 30, WIRE)])
    decision = decide_copy(fingerprint_text(WIRE), index, SETTINGS)
    assert (decision.cluster_id, decision.match, decision.reason) == (30, 3, "exact")

    near = decide_copy(
        fingerprint_text(republished(WIRE)),
        ListIndex([(1, 10, SAME_EVENT[0]), (3, 30, WIRE)]),
        SETTINGS,
    )
    assert (near.cluster_id, near.reason) == (30, "near")
    assert SETTINGS.threshold <= near.similarity < 1.0


def test_decision_starts_a_new_cluster_for_another_report() -> None:
    index = ListIndex([(1, 10, SAME_EVENT[0]), (2, 20, SAME_EVENT[1])])
    decision = decide_copy(fingerprint_text(WIRE), index, SETTINGS)
    assert (decision.cluster_id, decision.reason) == (None, "new")


def test_decision_honours_the_threshold_and_excludes_the_document_itself() -> None:
    index = ListIndex([(3, 30, WIRE)])
    copy = fingerprint_text(republished(WIRE))
    assert decide_copy(copy, index, CopySettings(threshold=0.99)).reason == "new"
    assert decide_copy(fingerprint_text(WIRE), index, SETTINGS, exclude=3).reason == "new"


def test_equally_good_matches_go_to_the_lower_cluster() -> None:
    index = ListIndex([(5, 50, WIRE), (4, 40, WIRE)])
    assert decide_copy(fingerprint_text(WIRE), index, SETTINGS).cluster_id == 40


T = datetime(2024, 5, 1, tzinfo=UTC)


def test_representative_is_the_earliest_then_the_longest() -> None:
    early = Member(document_id=9, published_at=T, text_chars=100)
    late_long = Member(document_id=1, published_at=T + timedelta(hours=1), text_chars=900)
    tie_longer = Member(document_id=8, published_at=T, text_chars=150)
    undated = Member(document_id=2, published_at=None, text_chars=5000)
    assert representative([late_long, early, undated]) == early
    assert representative([early, tie_longer, late_long]) == tie_longer
    assert representative([undated, late_long]) == late_long
    twin = Member(document_id=3, published_at=T, text_chars=150)
    assert representative([tie_longer, twin]) == twin  # then the lower document id
