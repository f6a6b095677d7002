"""Find and redact personal data (emails, phone numbers, IP addresses) and URLs.

Redaction replaces each match with a tag (`[EMAIL]`, `[PHONE]`, `[IP]`, `[URL]`) and then
searches again: text that still matches is an error, so the caller rejects the record
(fail closed) rather than pass on data it could not clean.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable, Literal

Kind = Literal["email", "phone", "ip"]
KINDS: tuple[Kind, ...] = ("email", "ip", "phone")  # this order: an IP or email holds digit runs

URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"'）)\]]+", re.I)
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}\b", re.I)
# Phones: "+" and a country code with groups of digits; or a (bracketed) area code of 2-4 digits
# then groups of 3-4 digits ((555) 123-4567, 555-123-4567, 020 7946 0958); or a mainland China
# mobile number. Tables of small numbers ("10 12 14 16") have groups too short to match.
PHONE = re.compile(
    r"(?<![\w.+-])\+\d{1,3}(?:[\s.-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}(?![\w-]?\d)"
    r"|(?<![\w.+-])(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w.-]?\d)"
    r"|(?<!\d)1[3-9]\d{9}(?!\d)")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.I)
TAGS = {"email": "[EMAIL]", "phone": "[PHONE]", "ip": "[IP]", "url": "[URL]"}


class RedactionError(Exception):
    """Text still holds personal data after redaction (or redaction itself failed)."""


def _phone(m: re.Match) -> bool:
    digits = sum(c.isdigit() for c in m.group())
    return 9 <= digits <= 15


def _ip(m: re.Match) -> bool:
    try:
        ipaddress.ip_address(m.group())
    except ValueError:
        return False
    return True


def _ipv6(m: re.Match) -> bool:
    # "::" and "a::" are valid addresses but mostly code or prose; want two groups at least
    return _ip(m) and sum(1 for g in m.group().split(":") if g) >= 2


def _all(m: re.Match) -> bool:
    return True


FINDERS: dict[str, list[tuple[re.Pattern, Callable[[re.Match], bool]]]] = {
    "email": [(EMAIL, _all)],
    "phone": [(PHONE, _phone)],
    "ip": [(IPV4, _ip), (IPV6, _ipv6)],
    "url": [(URL, _all)],
}


def ordered(kinds: tuple[str, ...] | list[str]) -> list[str]:
    return [k for k in ("url", *KINDS) if k in kinds]


def find(text: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every (kind, matched text) in `text`."""
    hits = []
    for kind in ordered(kinds):
        for pattern, ok in FINDERS[kind]:
            hits += [(kind, m.group()) for m in pattern.finditer(text) if ok(m)]
    return hits


def redact(text: str, kinds: tuple[str, ...]) -> tuple[str, dict[str, int]]:
    """`text` with every match of `kinds` replaced by its tag, and the count per kind.

    Raises RedactionError when a second search still finds something.
    """
    counts: dict[str, int] = {}
    for kind in ordered(kinds):
        for pattern, ok in FINDERS[kind]:
            def sub(m: re.Match, kind: str = kind, ok=ok) -> str:
                if not ok(m):
                    return m.group()
                counts[kind] = counts.get(kind, 0) + 1
                return TAGS[kind]
            text = pattern.sub(sub, text)
    left = find(text, kinds)
    if left:
        raise RedactionError(f"{left[0][0]} still present after redaction: {left[0][1]!r}")
    return text, counts
