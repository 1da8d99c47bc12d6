"""Copy clusters: decide which stored text, if any, a new text is a copy of.

A copy is the same text republished (a wire story on several sites, each with its own
template and light edits). The decision is pure: the candidates come from a
``NearDuplicateIndex`` (``storage.copies`` implements it over indexed LSH band keys),
and each candidate is verified by the Jaccard similarity estimated from the two
MinHash signatures. Which member represents a cluster is decided here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.fingerprint import Fingerprint, estimate_jaccard


class CopySettings(BaseModel):
    """How similar two texts must be to count as copies (the ``copies`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Estimated Jaccard similarity of the word 4-shingle sets. Different reports of one
    # event score below 0.05 (ECB+), a wire story republished with a paragraph dropped
    # and another site's credit and boilerplate lines usually above 0.5 and, for short
    # texts, down to about 0.3; see benchmarks/syndication.py.
    threshold: float = Field(0.3, gt=0.0, le=1.0)
    # At most this many stored texts are verified per new text: those sharing the most
    # band keys, the likeliest copies. Bounds the work when one text has many copies.
    max_candidates: int = Field(50, ge=1, le=10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class FingerprintedText:
    """A stored document's text, fingerprinted, as the copy index takes it."""

    url: str  # the document's canonical URL
    fingerprint: Fingerprint
    published_at: datetime | None  # tz-aware UTC, for the representative rule
    text_chars: int  # length of the clean text, the representative rule's tie-break


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A stored text that shares at least one band key (or its exact hash) with a new one."""

    document_id: int
    cluster_id: int
    content_hash: str
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyDecision:
    """Where a text goes: the cluster of its best match, or a new cluster of its own.

    ``reason`` is ``exact`` (same normalised text), ``near`` (estimated Jaccard at or
    above the threshold) or ``new`` (no candidate passed; ``cluster_id`` is None).
    """

    cluster_id: int | None
    match: int | None  # the document it matched best
    similarity: float  # 1.0 for an exact copy, 0.0 for a new cluster
    reason: Literal["exact", "near", "new"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """What the representative rule needs to know of one cluster member."""

    document_id: int
    published_at: datetime | None
    text_chars: int


class NearDuplicateIndex(Protocol):
    """Stored texts that may be copies of a fingerprinted one (not yet verified)."""

    def candidates(self, fingerprint: Fingerprint) -> Sequence[Candidate]: ...


def decide_copy(
    fingerprint: Fingerprint,
    index: NearDuplicateIndex,
    settings: CopySettings,
    *,
    exclude: int | None = None,
) -> CopyDecision:
    """Choose the cluster for a text: an exact copy's, else the most similar verified one's.

    ``exclude`` is the document itself when it is being re-fingerprinted. Ties go to the
    lower cluster id, so the same stored state and input always give the same answer.
    """
    return best_match(
        fingerprint,
        [c for c in index.candidates(fingerprint) if c.document_id != exclude],
        settings.threshold,
    )


def best_match(
    fingerprint: Fingerprint, candidates: Iterable[Candidate], threshold: float
) -> CopyDecision:
    """Verify ``candidates`` against ``threshold`` and return the best, or a new cluster."""
    best: tuple[float, int, int] | None = None  # (similarity, -cluster id, -document id)
    exact = False
    for candidate in candidates:
        is_exact = candidate.content_hash == fingerprint.content_hash
        similarity = (
            1.0 if is_exact else estimate_jaccard(fingerprint.signature, candidate.signature)
        )
        if similarity < threshold:
            continue
        key = (similarity, -candidate.cluster_id, -candidate.document_id)
        # An exact copy beats a near one even when the near one's estimate is 1.0.
        if best is None or (is_exact, key) > (exact, best):
            best, exact = key, is_exact
    if best is None:
        return CopyDecision(cluster_id=None, match=None, similarity=0.0, reason="new")
    similarity, cluster, document = best
    return CopyDecision(
        cluster_id=-cluster,
        match=-document,
        similarity=similarity,
        reason="exact" if exact else "near",
    )


def representative_key(member: Member) -> tuple[bool, float, int, int]:
    """Sort key of the representative rule: the smallest key represents the cluster.

    The earliest published copy; on a tie the longest clean text; then the lowest
    document id, so the choice never depends on arrival order. Undated copies come
    after dated ones: the rule cannot tell whether they came first.
    """
    published = member.published_at
    return (
        published is None,
        published.timestamp() if published is not None else 0.0,
        -member.text_chars,
        member.document_id,
    )


def representative(members: Iterable[Member]) -> Member:
    """The member that represents a cluster (``representative_key`` decides)."""
    return min(members, key=representative_key)
