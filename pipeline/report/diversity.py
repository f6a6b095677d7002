"""The diversity view of instructions without a parser: leading words, opening bigrams, and
verb -> object pairs (the leading word and the first content word after it).

The Self-Instruct paper parses each instruction for its root verb and that verb's first noun
object. No dependency parser ships offline here, so the pair is approximated: most instructions
are imperatives ("Write a poem about ..."), whose first word is the verb and whose first content
word after it ("poem") is usually the object.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W\d_][\w'-]*")
STOPWORDS = frozenset((
    "a an the of to in on for with and or but is are was were be been this that these those it its "
    "your you my me i we our us their them they he she his her as by at from about into than then "
    "some any each every all following given below above me please there here up out so such one two "
    "three four five six seven eight nine ten short brief new few more most very how why what when "
    "where who whom which whether if do does can could would should will"
).split())
MAX_KEYS = 200_000


@dataclass
class Diversity:
    """Counts over instructions; rare keys are pruned past MAX_KEYS so memory stays bounded."""

    n: int = 0
    leading: Counter = field(default_factory=Counter)
    bigrams: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)

    def observe(self, instruction: str) -> None:
        words = _WORD.findall(instruction[:160].lower())
        if words and words[0] == "please":
            words = words[1:]
        if not words:
            return
        self.n += 1
        self.leading[words[0]] += 1
        if len(words) > 1:
            self.bigrams[f"{words[0]} {words[1]}"] += 1
        obj = next((w for w in words[1:12] if w not in STOPWORDS), None)
        if obj:
            self.pairs[f"{words[0]} \u2192 {obj}"] += 1
        for counter in (self.pairs, self.bigrams):
            if len(counter) > MAX_KEYS:
                _prune(counter)

    def top(self, which: str, k: int = 15) -> list[tuple[str, int]]:
        counter: Counter = getattr(self, which)
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

    @property
    def distinct_leading(self) -> int:
        return len(self.leading)


def _prune(counter: Counter) -> None:
    """Drop the rarest keys until at most half of MAX_KEYS are left (the top ones stay exact enough)."""
    floor = 1
    while len(counter) > MAX_KEYS // 2:
        for key in [k for k, c in counter.items() if c <= floor]:
            del counter[key]
        floor += 1
