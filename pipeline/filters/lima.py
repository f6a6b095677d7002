"""LIMA's Stack Exchange / wikiHow answer rules: first person, references to other answers, link stripping.

LIMA (Zhou et al. 2023) kept top answers of 1,200-4,096 characters that are not written in the
first person and do not refer to other answers, with links, images and HTML removed except code
blocks and lists; wikiHow's "This article..." became "The following answer...".
"""

from __future__ import annotations

import re

# the singular first person: the answerer speaking of themselves ("I tried", "in my experience").
# The plural ("we can see") is the impersonal voice of tutorials, and LIMA's answers keep it.
FIRST_PERSON = re.compile(r"(?<![\w'])(?:I|I'm|I've|I'd|I'll|[Mm]y|[Mm]e|[Mm]ine|[Mm]yself|IMO|IMHO)(?![\w'])")
OTHER_ANSWER = re.compile(r"\b(?:other|previous|above|below|accepted|earlier|another) (?:answers?|posts?|"
                          r"repl(?:y|ies)|comments?)\b|\b(?:as|like) @\w+|\bthe answer (?:above|below)\b"
                          r"|\bas (?:others|someone) (?:have|has) (?:said|mentioned|pointed out)\b", re.I)

IMAGE_MD = re.compile(r"!\[[^\]]*\]\([^)]*\)")
LINK_MD = re.compile(r"\[([^\]]+)\]\([^)]*\)")
REF_LINK_MD = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
REF_DEF_MD = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$\n?", re.M)
URL = re.compile(r"<?https?://[^\s<>)\]]+>?")
IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
A_TAG = re.compile(r"<a\b[^>]*>(.*?)</a>", re.I | re.S)
# code blocks and lists survive (their content, and the tags in HTML answers)
KEEP_TAGS = {"pre", "code", "ul", "ol", "li"}
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
FENCE = re.compile(r"```.*?```|<pre\b.*?</pre>", re.S | re.I)


def first_person(text: str) -> str | None:
    """The first first-person word outside code, or None."""
    m = FIRST_PERSON.search(FENCE.sub(" ", text))
    return m.group(0) if m else None


def refers_to_other_answer(text: str) -> str | None:
    m = OTHER_ANSWER.search(FENCE.sub(" ", text))
    return m.group(0) if m else None


def _strip_outside_code(text: str) -> str:
    text = IMG_TAG.sub("", IMAGE_MD.sub("", text))
    text = A_TAG.sub(r"\1", text)
    text = LINK_MD.sub(r"\1", REF_LINK_MD.sub(r"\1", REF_DEF_MD.sub("", text)))
    text = TAG.sub(lambda m: m.group(0) if m.group(1).lower() in KEEP_TAGS else "", text)
    return URL.sub("", text)


def strip_links(text: str) -> str:
    """Links become their text, images and bare URLs go, other HTML tags go; code blocks are untouched."""
    out, last = [], 0
    for m in FENCE.finditer(text):
        out += [_strip_outside_code(text[last:m.start()]), m.group(0)]
        last = m.end()
    out.append(_strip_outside_code(text[last:]))
    return re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", "".join(out))).strip()


THIS_ARTICLE = re.compile(r"\bThis article\b")


def wikihow_rewrite(text: str) -> str:
    """wikiHow's self-reference, as LIMA rewrote it."""
    return THIS_ARTICLE.sub("The following answer", text)


def tempered_shares(counts: dict[str, int], tau: float) -> dict[str, float]:
    """Sampling probability per group, proportional to count^(1/tau): tau=1 keeps the natural
    distribution, larger tau flattens it toward uniform (LIMA used tau=3 over Stack Exchange sites)."""
    weights = {g: n ** (1.0 / tau) for g, n in counts.items() if n > 0}
    total = sum(weights.values())
    return {g: w / total for g, w in weights.items()}
