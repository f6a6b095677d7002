"""InsTag tag normalisation: clean each tag, merge tags that stem alike, drop rare tags.

A tag is cleaned by NFKC, case folding, and turning every run of characters other than letters,
digits, `+` and `#` into one space ("Code-Debugging!" -> "code debugging"; "C++" stays "c++").
Tags whose words share their Snowball (Porter2) English stems are one tag ("math problems",
"math problem"; "programs", "programming"), shown in its most frequent cleaned form (ties: the shorter, then the
alphabetically first). Words of other scripts pass the stemmer unchanged. InsTag's semantic
and association merges (`tag_merge.py`) map stem keys onto others (`merged`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable

import snowballstemmer

_STEMMER = snowballstemmer.stemmer("english")
_SPECIAL = re.compile(r"[^\w+#]+|_+")


def clean_tag(tag: str) -> str:
    return " ".join(_SPECIAL.sub(" ", unicodedata.normalize("NFKC", tag).casefold()).split())


def tag_key(cleaned: str) -> str:
    return " ".join(_STEMMER.stemWords(cleaned.split()))


class TagVocabulary:
    """Counts of tags over a stage (each tag once per record), merged by stem."""

    def __init__(self) -> None:
        self.records: Counter = Counter()
        self.forms: dict[str, Counter] = defaultdict(Counter)
        self.merged: dict[str, str] = {}

    def merge(self, mapping: dict[str, str], record_keys: list[set[str]]) -> None:
        """Map keys onto others; their records count for the target once per record."""
        if not mapping:
            return
        self.merged.update(mapping)
        self.records = Counter(k for keys in record_keys for k in {self.final(x) for x in keys})

    def final(self, key: str) -> str:
        while key in self.merged:
            key = self.merged[key]
        return key

    def add(self, tags: Iterable[str]) -> list[str]:
        """Count one record's raw tags; return their cleaned forms (empty ones dropped)."""
        cleaned = [c for c in (clean_tag(t) for t in tags) if c]
        for key in dict.fromkeys(tag_key(c) for c in cleaned):
            self.records[key] += 1
        for c in cleaned:
            self.forms[tag_key(c)][c] += 1
        return cleaned

    def shown(self, key: str) -> str:
        return min(self.forms[key].items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]

    def normalise(self, cleaned: Iterable[str], min_count: int = 1) -> list[str]:
        """One record's tags in their shown form: merged, deduplicated, rare ones dropped."""
        keys = dict.fromkeys(self.final(tag_key(c)) for c in cleaned)
        return [self.shown(k) for k in keys if self.records[k] >= min_count]

    def counts(self, min_count: int = 1) -> dict[str, int]:
        """Shown tag -> records carrying it, most frequent first."""
        kept = [(self.shown(k), n) for k, n in self.records.items() if n >= min_count]
        return dict(sorted(kept, key=lambda kv: (-kv[1], kv[0])))


def coverage(tags: Iterable[str], reference: Iterable[str]) -> float:
    """InsTag diversity: the share of the reference's tags (by stem) that `tags` cover."""
    ref = {tag_key(clean_tag(t)) for t in reference}
    if not ref:
        return 0.0
    return len(ref & {tag_key(clean_tag(t)) for t in tags}) / len(ref)
