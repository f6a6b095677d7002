"""Read a report page back as data: its tables (rows of cell texts) and <summary> texts."""

from __future__ import annotations

from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.summaries: list[str] = []
        self._buf: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "summary"):
            self._buf = []

    def handle_endtag(self, tag):
        if tag in ("td", "th", "summary") and self._buf is not None:
            text = " ".join("".join(self._buf).split())
            (self.tables[-1][-1] if tag != "summary" else self.summaries).append(text)
            self._buf = None

    def handle_data(self, data):
        if self._buf is not None:
            self._buf.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def table(html: str, first_header: str, second_header: str) -> dict[str, list[str]]:
    """The rows (keyed by first cell, header row left out) of the table whose header row starts
    with these two cells."""
    for rows in parse(html).tables:
        if rows and rows[0][:2] == [first_header, second_header]:
            return {r[0]: r for r in rows[1:]}
    raise AssertionError(f"no table with header {first_header!r}, {second_header!r}")


def key_figures(html: str) -> dict[str, str]:
    """The key-figures table: label -> value (the first table of the page)."""
    return {r[0]: r[1] for r in parse(html).tables[0]}
