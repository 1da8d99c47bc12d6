"""Fingerprints of cleaned text: word shingles, a MinHash signature and its LSH band keys.

Pure functions, no storage. A ``Fingerprint`` is what the copy index keeps per
document: the exact-copy hash, the MinHash signature (for verifying candidates by
estimated Jaccard) and the band keys (for finding candidates with one indexed lookup
per band).

The constants below define the signature's meaning. Signatures and band keys already
stored were made with them, so changing any of them needs every document
re-fingerprinted; that is why they are constants and not settings (the similarity
threshold, which only reads signatures, is a setting: ``pipeline.copies``).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

from pipeline.text import content_hash

SHINGLE_WORDS = 4  # words per shingle: long enough that shared phrases are rare by chance
NUM_PERM = 128  # MinHash permutations: the Jaccard estimate's standard error is ~0.04
BANDS = 42  # LSH bands of ...
ROWS = NUM_PERM // BANDS  # ... 3 rows each (126 of the 128 minima); ``candidate_probability``
SEED = 20241022  # the permutations' seed; fixed forever once signatures are stored
SIGNATURE_BYTES = NUM_PERM * 4  # little-endian uint32 minima

_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for combining


@dataclass(frozen=True, slots=True, kw_only=True)
class Fingerprint:
    """What the copy index keeps of one text."""

    content_hash: str  # exact copies share it (``pipeline.text.content_hash``)
    signature: bytes  # NUM_PERM little-endian uint32 MinHash minima
    shingles: int  # distinct shingles in the text (0 only for a text without words)
    band_keys: tuple[int, ...]  # BANDS signed 64-bit keys, one per band


def words(text: str) -> list[str]:
    """The text's words, case-folded, punctuation and spacing ignored."""
    return _WORD.findall(text.casefold())


def shingle_hashes(tokens: list[str], size: int = SHINGLE_WORDS) -> npt.NDArray[np.uint32]:
    """32-bit hashes of the distinct ``size``-word shingles (one shingle for a short text).

    Each word is hashed once (CRC-32, stable across processes and Python versions,
    unlike ``hash``) and the shingles' hashes are combined in numpy, which is many
    times faster than hashing every shingle's string.
    """
    if not tokens:
        return np.zeros(0, dtype=np.uint32)
    word_hashes = np.array(list(map(zlib.crc32, map(str.encode, tokens))), dtype=np.uint64)
    span = max(1, len(tokens) - size + 1)
    combined = np.zeros(span, dtype=np.uint64)
    for offset in range(min(size, len(tokens))):
        # Multiply-and-add with wrap-around: order matters, so "a b c d" != "d c b a".
        combined = combined * _MIX + word_hashes[offset : offset + span]
    folded = (combined ^ (combined >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return np.unique(folded.astype(np.uint32))


@cache
def _template() -> MinHash:
    # Building a MinHash draws its permutations from a random generator; do it once.
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=int)


def minhash_signature(hashes: npt.NDArray[np.uint32]) -> bytes:
    """The MinHash signature of a set of shingle hashes, as ``SIGNATURE_BYTES`` bytes."""
    template = _template()
    minhash = MinHash(
        seed=SEED,
        hashfunc=int,
        permutations=template.permutations,
        scheme="affine32",
    )
    if len(hashes):
        minhash.update_batch(hashes.tolist())
    signature: bytes = minhash.hashvalues.astype("<u4").tobytes()
    return signature


def band_keys(signature: bytes, bands: int = BANDS) -> tuple[int, ...]:
    """One signed 64-bit key per band of the signature: equal keys, equal band.

    The band's position is part of the key, so one index column serves every band.
    """
    width = (len(signature) // 4 // bands) * 4  # bytes per band: its rows of 4-byte minima
    keys: list[int] = []
    for band in range(bands):
        digest = hashlib.blake2b(
            signature[band * width : (band + 1) * width],
            digest_size=8,
            person=band.to_bytes(4, "little") + b"band",
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """The Jaccard similarity of two texts' shingle sets, estimated from their signatures."""
    if len(a) != len(b):
        raise ValueError(f"signatures of different lengths ({len(a)} and {len(b)} bytes)")
    left = np.frombuffer(a, dtype="<u4")
    right = np.frombuffer(b, dtype="<u4")
    return float(np.count_nonzero(left == right)) / len(left)


def candidate_probability(jaccard: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The chance that two texts of this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def fingerprint_text(text: str, exact_hash: str | None = None) -> Fingerprint:
    """Fingerprint a cleaned text: its exact hash, MinHash signature and band keys.

    ``exact_hash`` is the text's ``content_hash`` when the caller has it already (an
    ``Article`` carries it), else it is computed.
    """
    hashes = shingle_hashes(words(text))
    signature = minhash_signature(hashes)
    return Fingerprint(
        content_hash=exact_hash if exact_hash is not None else content_hash(text),
        signature=signature,
        shingles=len(hashes),
        # A text without words has the empty set's signature, equal for all such texts;
        # only its exact hash may match it to anything.
        band_keys=band_keys(signature) if len(hashes) else (),
    )
