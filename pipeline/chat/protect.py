"""Keep code blocks, URLs and placeholders out of translation: swap them for numbered markers
before the text goes to the model, and put them back afterwards (all markers must survive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Order matters: a fenced block may hold URLs and braces; it is taken whole first.
PATTERNS = (
    ("code_block", r"```[^\n]*\n.*?```|~~~[^\n]*\n.*?~~~"),
    ("inline_code", r"`[^`\n]+`"),
    ("url", r"\b(?:https?|ftp)://[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]|\bwww\.[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]"),
    ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    ("placeholder", r"\{\{[^{}\n]{1,60}\}\}|\$\{[A-Za-z_][\w.]*\}|\{[A-Za-z_][\w.]{0,40}\}|\{\d{1,2}\}"
                    r"|<[A-Za-z_][\w-]{0,30}>|%\([A-Za-z_]\w*\)[sdifr]|%[sdif]\b|\[[A-Z][A-Z0-9_]{1,30}\]"),
)
_ANY = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in PATTERNS), re.S)


@dataclass(frozen=True)
class Protected:
    """A text with its protected spans replaced by markers `⟦0⟧`, `⟦1⟧`, ..."""

    text: str
    spans: tuple[str, ...]
    open: str = "⟦"
    close: str = "⟧"

    def marker(self, i: int) -> str:
        return f"{self.open}{i}{self.close}"


def protect(text: str) -> Protected:
    """Replace code, URLs, e-mails and placeholders by markers the model is told to keep."""
    open_, close = "⟦", "⟧"
    while open_ in text:  # a text that already holds the marker gets a longer one
        open_, close = open_ + "⟦", close + "⟧"
    spans: list[str] = []

    def swap(m: re.Match) -> str:
        spans.append(m.group(0))
        return f"{open_}{len(spans) - 1}{close}"

    return Protected(_ANY.sub(swap, text), tuple(spans), open_, close)


def restore(translated: str, prot: Protected) -> tuple[str | None, str]:
    """Put the spans back. Returns (text, "") or (None, why) when a marker is lost or repeated."""
    out = translated
    for i, span in enumerate(prot.spans):
        marker = prot.marker(i)
        n = out.count(marker)
        if n != 1:
            what = "missing" if n == 0 else f"repeated {n} times"
            return None, f"marker {marker} ({span[:40]!r}) {what}"
        out = out.replace(marker, span)
    leftover = re.search(re.escape(prot.open) + r"\d+" + re.escape(prot.close), out)
    if leftover:
        return None, f"unknown marker {leftover.group(0)} in the translation"
    return out, ""


def strip_protected(text: str) -> str:
    """The text without code, URLs and placeholders (what language identification should see)."""
    return _ANY.sub(" ", text)
