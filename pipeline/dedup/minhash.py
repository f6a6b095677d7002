"""Vectorised MinHash signatures, LSH bands and candidate pairs, compatible with datasketch.

Signatures follow datasketch's default `affine32` scheme bit for bit (same seed, same
permutations, MurmurHash3 pre-mix), and `lsh_params` picks the same (bands, rows) as
`MinHashLSH` for a threshold, so a datasketch index over the same shingles finds the same
candidate pairs. The speed comes from hashing many records in one numpy call.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Callable

import numpy as np

M1, M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
MAX32 = np.uint32(0xFFFFFFFF)
CHUNK = 1 << 16  # shingles per numpy block: bounds the (shingles x permutations) matrix


def sha1_hash32(data: bytes) -> int:
    """datasketch's default shingle hash: the first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def hash_function(name: str) -> Callable[[bytes], int]:
    if name == "sha1":
        return sha1_hash32
    import xxhash

    return xxhash.xxh32_intdigest


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of datasketch's affine32 permutations `a*h + b mod 2**32`, a odd."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(hv: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, the bijective pre-mix datasketch applies to input hashes."""
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * M1
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * M2
    return hv ^ (hv >> np.uint32(16))


def signatures(hashes: np.ndarray, counts: np.ndarray, num_perm: int, seed: int = 1) -> np.ndarray:
    """MinHash signatures (n x num_perm uint32) of n sets given as concatenated uint32 hashes.

    `counts[i]` is the number of hashes of set i; every count must be positive.
    """
    a, b = permutations(num_perm, seed)
    hv = fmix32(hashes.astype(np.uint32, copy=False))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    out = np.empty((len(counts), num_perm), dtype=np.uint32)
    block = np.empty((num_perm, CHUNK), dtype=np.uint32)
    i = 0
    with np.errstate(over="ignore"):
        while i < len(counts):
            j = max(int(np.searchsorted(starts, starts[i] + CHUNK, side="right")), i + 1)
            lo, hi = starts[i], starts[j - 1] + counts[j - 1]
            # permutations x shingles, so the per-record minimum runs over contiguous memory
            blk = block[:, :hi - lo] if hi - lo <= CHUNK else np.empty((num_perm, hi - lo), np.uint32)
            np.multiply(a[:, None], hv[None, lo:hi], out=blk)
            blk += b[:, None]
            out[i:j] = np.minimum.reduceat(blk, starts[i:j] - lo, axis=1).T
            i = j
    return out


def _fp(threshold: float, b: int, r: int, x: np.ndarray, w: np.ndarray) -> float:
    s = threshold * (x + 1) / 2
    return float(threshold / 2 * np.sum(w * (1 - (1 - s ** r) ** b)))


def _fn(threshold: float, b: int, r: int, x: np.ndarray, w: np.ndarray) -> float:
    s = threshold + (1 - threshold) * (x + 1) / 2
    return float((1 - threshold) / 2 * np.sum(w * (1 - s ** r) ** b))


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives, as datasketch's MinHashLSH.

    The integrands are polynomials of degree b*r <= num_perm, so Gauss-Legendre with
    num_perm/2 + 1 nodes integrates them exactly (datasketch uses scipy's quad).
    """
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = 0.5 * _fp(threshold, b, r, x, w) + 0.5 * _fn(threshold, b, r, x, w)
            if err < best:
                best, opt = err, (b, r)
    return opt


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit hash per band (n x bands): equal bands give equal hashes."""
    out = np.empty((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(bands):
            h = np.full(sig.shape[0], 0x9E3779B97F4A7C15, dtype=np.uint64)
            for col in sig[:, i * rows:(i + 1) * rows].T:
                h = (h ^ col.astype(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
                h ^= h >> np.uint64(31)
            out[:, i] = h
    return out


def bucket_edges(h: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (anchor, member) of records sharing a band hash; the anchor is the bucket's lowest index."""
    idx = np.arange(len(h), dtype=np.int64) if valid is None else np.flatnonzero(valid)
    hv = h[idx]
    order = np.argsort(hv, kind="stable")
    hs = hv[order]
    same = hs[1:] == hs[:-1]
    if not same.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    new_run = np.concatenate(([True], ~same))
    run_start = np.flatnonzero(new_run)
    anchor = order[run_start[np.cumsum(new_run) - 1]]
    members = np.flatnonzero(~new_run)
    return idx[anchor[members]], idx[order[members]]


def components(labels: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Union-find: merge the edges into `labels` (each record's root = lowest index of its group).

    Vectorised hooking (each root under the smaller root) and path compression; start from
    `np.arange(n)` or from the labels of an earlier call.
    """
    labels = labels.copy()
    while len(u):
        lu, lv = labels[u], labels[v]
        lo, hi = np.minimum(lu, lv), np.maximum(lu, lv)
        diff = lo != hi
        if not diff.any():
            break
        u, v = u[diff], v[diff]
        np.minimum.at(labels, hi[diff], lo[diff])
        while True:
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt
    return labels


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted arrays of distinct values."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 0.0
