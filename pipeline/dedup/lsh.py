"""What both forms of `dedup_minhash` share: a batch of texts to LSH band hashes (and shingle
sets), and the band-by-band merge of candidate pairs into clusters.

The one-process op (pipeline/ops/dedup_minhash.py) and its shards (pipeline/dedup/minhash_shards.py)
call the same two functions, so their clusters, kept records and counters cannot drift apart.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from pipeline.dedup import minhash as mh
from pipeline.dedup.keep import duplicate, representatives
from pipeline.dedup.text import shingles
from pipeline.ops.base import Item
from pipeline.record import Record

# (u, v) -> mask of the candidate pairs whose exact Jaccard reaches the threshold
Check = Callable[[np.ndarray, np.ndarray], np.ndarray]


def text_hashes(text: str, p, hf) -> np.ndarray:
    """32-bit hashes of a text's shingles (sorted and distinct when `verify` needs sets)."""
    sh = shingles(text, p.ngram, p.shingle)
    hv = np.fromiter(map(hf, sh), dtype=np.uint32, count=len(sh))
    return np.unique(hv) if p.verify else hv


def hash_batch(texts: list[str], p) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Band hashes (texts x bands), shingle counts, and the shingle sets' bytes (with `verify`).
    `p` is a `DedupMinhashParams`; each record's values depend on its text alone."""
    bands, rows = mh.lsh_params(p.threshold, p.num_perm)
    hf = mh.hash_function(p.hashfunc)
    hs = [text_hashes(t, p, hf) for t in texts]
    lens = np.array([len(h) for h in hs], dtype=np.int64)
    ok = lens > 0
    bh = np.zeros((len(texts), bands), dtype=np.uint64)
    if ok.any():
        sig = mh.signatures(np.concatenate([h for h in hs if len(h)]), lens[ok], p.num_perm, p.seed)
        bh[ok] = mh.band_hashes(sig, bands, rows)
    return bh, lens, b"".join(h.tobytes() for h in hs) if p.verify else b""


def merge_bands(edges: Iterable[tuple[np.ndarray, np.ndarray]], valid: np.ndarray, keys: np.ndarray,
                check: Check | None, count: Callable[[str, int], None]) -> tuple[np.ndarray, np.ndarray]:
    """(kept record index, cluster size) for every record, from each band's bucket pairs
    (`minhash.bucket_edges` of the band's n hashes), in band order.

    Pairs already in one cluster are skipped before they are counted (`candidate_pairs`) or
    checked, so the counters depend on the band order, and at most one band and its new pairs
    are in memory at once.
    """
    n = len(valid)
    labels = np.arange(n, dtype=np.int64)
    for u, v in edges:
        new = labels[u] != labels[v]
        u, v = u[new], v[new]
        count("candidate_pairs", len(u))
        if check is not None and len(u):
            ok = check(u, v)
            count("false_positive_pairs", int((~ok).sum()))
            u, v = u[ok], v[ok]
        labels = mh.components(labels, u, v)
    sizes = np.bincount(labels, minlength=n)
    count("clusters", int(np.count_nonzero(sizes > 1)))
    count("no_shingles", int((~valid).sum()))
    return representatives(labels, keys), sizes[labels]


def decided(recs: Iterable[Record], rep: np.ndarray, sizes: np.ndarray, ids: dict[int, str], keep: str,
            offset: int = 0, learn: np.ndarray | None = None) -> Iterator[Item]:
    """The records kept or rejected as `near_duplicate` of their cluster's kept record, named by
    `ids`. `rep` and `sizes` are the records' own (the first is record `offset` of the whole
    input); `learn` marks kept records whose ids are learnt here (keep first: a kept record comes
    before its duplicates)."""
    learnt = set(np.flatnonzero(learn).tolist()) if learn is not None else set()
    for i, (rec, r, size) in enumerate(zip(recs, rep.tolist(), sizes.tolist()), start=offset):
        if r == i:
            if i in learnt:
                ids[i] = rec.id
            yield rec
        else:
            yield duplicate(rec, ids[r], "near_duplicate",
                            f"near-duplicate of {ids[r]} (cluster of {size}, keep {keep})",
                            cluster_size=size)
