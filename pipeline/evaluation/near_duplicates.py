"""Near-duplicate photos: candidates by their pooled features, confirmed by their pixels.

The split keeps byte-identical photos together; a photo re-encoded, resized, cropped
or slightly edited has other bytes, so it can land on both sides. Two stages find it:

1. Candidates: each photo's `CANDIDATES` most similar photos by the cosine of their
   pooled MobileNetV2 features, kept from `POOLED_FLOOR` up. Features find the copy
   (a copy's original is its nearest photo) but do not separate it well: a copy
   downscaled to half size and back scores as low as 0.74, and two unrelated photos
   of one class up to 0.79 among 600 (docs/data-review.md).
2. Confirmation: the correlation of the two photos' 16x16 colour thumbnails
   (`signature`), at least `PIXEL_THRESHOLD`. A photo's JPEG q60, half-size and 95%-crop
   copies score 0.963 to 1.0; two unrelated photos at most 0.847 among 600 PetImages
   photos (every pair), and 0.943 for the closest wrong pair looked at on CIFAR-10.

Every search is exact (blocked matrix products), so nothing depends on an index's
approximations, and memory stays at one block of similarities at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

CANDIDATES = 5
POOLED_FLOOR = 0.70
PIXEL_THRESHOLD = 0.95
SIGNATURE_SIDE = 16
BLOCK = 1024  # rows per block: BLOCK x n similarities in memory at once


def signature(img: Image.Image, side: int = SIGNATURE_SIDE) -> np.ndarray:
    """A photo's `side` x `side` colour thumbnail, centred and scaled to length 1: the dot
    product of two signatures is their pixels' correlation."""
    small = img.convert("RGB").resize((side, side), Image.BILINEAR)
    x = np.asarray(small, dtype=np.float32).ravel()
    x -= x.mean()
    return x / max(float(np.linalg.norm(x)), 1e-6)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), as float32."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class Candidates:
    """For each query row, up to k base rows, most similar first (index -1 where fewer
    reach the floor), and their cosine similarities."""

    index: np.ndarray  # (n, k)
    similarity: np.ndarray  # (n, k)


def candidates(
    query: np.ndarray,
    base: np.ndarray,
    *,
    k: int = CANDIDATES,
    floor: float = POOLED_FLOOR,
    same: bool = False,
    block: int = BLOCK,
) -> Candidates:
    """Each query row's `k` most similar `base` rows by cosine similarity, at least `floor`
    alike (exact). `same`: query and base are one set, and a row is not its own candidate."""
    q, b = unit_rows(query), unit_rows(base)
    k = min(k, len(b) - (1 if same else 0))
    index = np.full((len(q), max(k, 0)), -1, dtype=np.int64)
    similarity = np.full((len(q), max(k, 0)), np.nan, dtype=np.float32)
    if k <= 0:
        return Candidates(index, similarity)
    for start in range(0, len(q), block):
        sims = q[start : start + block] @ b.T
        rows = np.arange(len(sims))
        if same:
            sims[rows, rows + start] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = sims[rows[:, None], top]
        order = np.argsort(-top_sims, axis=1, kind="stable")
        top, top_sims = top[rows[:, None], order], top_sims[rows[:, None], order]
        below = top_sims < floor
        top[below], top_sims[below] = -1, np.nan
        index[start : start + block], similarity[start : start + block] = top, top_sims
    return Candidates(index, similarity)


def nearest_similarity(query: np.ndarray, base: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Each query row's highest cosine similarity to any base row (NaN for an empty base)."""
    found = candidates(query, base, k=1, floor=-np.inf, block=block)
    return found.similarity[:, 0] if found.similarity.shape[1] else np.full(len(query), np.nan)


@dataclass(frozen=True)
class Match:
    """Two photos confirmed as near-duplicates: rows `a` (query side) and `b` (base side),
    the cosine of their pooled features and the correlation of their pixels."""

    a: int
    b: int
    pooled: float
    pixels: float


def confirm(
    found: Candidates,
    query_signatures: np.ndarray,
    base_signatures: np.ndarray,
    threshold: float = PIXEL_THRESHOLD,
) -> list[Match]:
    """The candidate pairs whose signatures correlate at least `threshold`."""
    rows, slots = np.nonzero(found.index >= 0)
    cols = found.index[rows, slots]
    pixels = np.einsum("ij,ij->i", query_signatures[rows], base_signatures[cols])
    keep = pixels >= threshold
    return [
        Match(int(a), int(b), pooled=float(found.similarity[a, s]), pixels=float(p))
        for a, b, s, p in zip(rows[keep], cols[keep], slots[keep], pixels[keep], strict=True)
    ]


def leaks(
    val_features: np.ndarray,
    train_features: np.ndarray,
    *,
    val_signatures: np.ndarray,
    train_signatures: np.ndarray,
) -> list[Match]:
    """Validation photos with a near-duplicate in training: one match per validation photo
    (its closest by pixels), the closest first."""
    found = candidates(val_features, train_features)
    best: dict[int, Match] = {}
    for match in confirm(found, val_signatures, train_signatures):
        if match.a not in best or match.pixels > best[match.a].pixels:
            best[match.a] = match
    return sorted(best.values(), key=lambda m: (-m.pixels, m.a))


def within(features: np.ndarray, signatures: np.ndarray) -> list[Match]:
    """Near-duplicate pairs within one set, each pair once (a < b)."""
    found = candidates(features, features, same=True)
    pairs = {}
    for match in confirm(found, signatures, signatures):
        a, b = sorted((match.a, match.b))
        pairs[(a, b)] = Match(a, b, pooled=match.pooled, pixels=match.pixels)
    return sorted(pairs.values(), key=lambda m: (m.a, m.b))


def groups(pairs: list[Match], n: int) -> list[list[int]]:
    """Connected groups of two or more rows joined by `pairs` (union-find), each sorted,
    largest first."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for pair in pairs:
        a, b = root(pair.a), root(pair.b)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    found = [sorted(g) for g in members.values() if len(g) > 1]
    return sorted(found, key=lambda g: (-len(g), g[0]))


def similarity_histogram(similarity: np.ndarray, bins: int = 50) -> dict:
    """Counts of similarities in `bins` equal bins over [0, 1] (NaN left out)."""
    values = np.clip(similarity[~np.isnan(similarity)], 0, 1)
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return {"edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()}
