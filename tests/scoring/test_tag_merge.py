"""InsTag's semantic and association merges on hand-made vocabularies."""

from collections import Counter

import numpy as np

from pipeline.scoring.tag_merge import association_merges, semantic_merges


def test_semantic_merge_chains_within_eps_into_the_most_frequent():
    keys = ["math", "mathemat", "arithmet", "poetri"]
    v = np.array([[1.0, 0.0], [0.999, 0.0447], [0.995, 0.0998], [0.0, 1.0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    counts = Counter({"math": 5, "mathemat": 9, "arithmet": 2, "poetri": 7})
    # math~mathemat (distance 0.001), mathemat~arithmet (0.0013): one group headed by mathemat
    assert semantic_merges(keys, keys, v, counts, 0.005) == {"math": "mathemat", "arithmet": "mathemat"}
    assert semantic_merges(keys, keys, v, counts, 0.0) == {}


def test_association_merge_needs_support_and_confidence():
    records = [{"code", "python"}] * 45 + [{"code"}] * 30 + [{"code", "sql"}] * 39 + [{"sql"}] + [{"poem"}] * 50
    counts = Counter(t for r in records for t in r)
    # python always comes with code (45 >= 40 records, 100%): merged; sql is with code 39 times only
    assert association_merges(records, counts, 40, 0.99) == {"python": "code"}
    assert association_merges(records, counts, 30, 0.99) == {"python": "code"}       # sql: 39/40 < 99%
    assert association_merges(records, counts, 30, 0.95) == {"python": "code", "sql": "code"}
