"""InsTag's later tag merges, over a stage's whole tag vocabulary (stem keys):

- semantic: tags whose embeddings are within cosine distance `eps` are one tag (DBSCAN with one
  point per core, which is the connected components of the eps-neighbourhood graph; InsTag used
  PhraseBERT embeddings and eps 0.05);
- association: a tag that (almost) never appears without another one is merged into it, the
  pair rules of InsTag's FP-Growth pass (support >= `min_support` records, confidence >=
  `confidence`; InsTag: 40 and 99%).

Each merge maps a key to the key of its group's most frequent tag (ties: the first in order).
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np


def _root(parent: dict[str, str], key: str) -> str:
    while parent[key] != key:
        parent[key] = parent[parent[key]]
        key = parent[key]
    return key


def _groups_to_map(keys: list[str], parent: dict[str, str], counts: Counter) -> dict[str, str]:
    members: dict[str, list[str]] = {}
    for k in keys:
        members.setdefault(_root(parent, k), []).append(k)
    out = {}
    for group in members.values():
        head = min(group, key=lambda k: (-counts[k], keys.index(k)))
        out.update({k: head for k in group if k != head})
    return out


def semantic_merges(keys: list[str], texts: list[str], vectors: np.ndarray, counts: Counter,
                    eps: float) -> dict[str, str]:
    """key -> key it merges into, for tags within cosine distance `eps` of each other (chained)."""
    parent = {k: k for k in keys}
    if len(keys) > 1:
        sims = vectors @ vectors.T
        for i, j in zip(*np.nonzero(np.triu(sims >= 1.0 - eps, k=1))):
            a, b = _root(parent, keys[i]), _root(parent, keys[j])
            if a != b:
                parent[b] = a
    return _groups_to_map(keys, parent, counts)


def association_merges(records: list[set[str]], counts: Counter, min_support: int,
                       confidence: float) -> dict[str, str]:
    """key -> key it merges into: `b` into `a` when `a` and `b` share >= min_support records and
    at least `confidence` of `b`'s records also carry `a` (the rarer into the more frequent)."""
    pairs: Counter = Counter()
    for tags in records:
        pairs.update(combinations(sorted(tags), 2))
    out: dict[str, str] = {}
    for (x, y), both in sorted(pairs.items()):
        if both < min_support:
            continue
        a, b = (x, y) if (counts[x], y) >= (counts[y], x) else (y, x)   # b: the rarer
        if both / counts[b] >= confidence and b not in out:
            out[b] = a
    for b in list(out):                      # follow chains to their end
        seen = {b}
        while out[b] in out and out[out[b]] not in seen:
            seen.add(out[b])
            out[b] = out[out[b]]
    return out
