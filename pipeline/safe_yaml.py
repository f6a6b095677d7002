"""YAML from untrusted files (recipes, template files) with alias expansion and nesting bounded.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" file (anchors that
alias anchors, nine times over) loads quickly and then explodes in whatever walks the result
(validation copies it: gigabytes). The loader below sizes every node as it would be expanded
while the document is composed, and stops as soon as the size passes `MAX_NODES`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_NODES = 1_000_000  # far above any real recipe or templates file
MAX_DEPTH = 200  # composing and validating recurse once per level: stop well before Python's limit


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader refusing documents whose aliases expand to more than `MAX_NODES` nodes, or
    nested more than `MAX_DEPTH` levels."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self._depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep; refusing to load it",
                                self.peek_event().start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        key = id(node)
        if key in self._sizes:  # an alias: its size was settled when its anchor was composed
            return node
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._sizes.get(id(child), 1) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        if size > MAX_NODES:
            raise ComposerError(None, None, f"aliases expand this document to more than {MAX_NODES:,} "
                                "values (nested anchors); refusing to load it", node.start_mark)
        self._sizes[key] = size
        return node


def load(text: str, loader: type[BoundedLoader] = BoundedLoader) -> Any:
    """One YAML document, safely and with alias expansion bounded (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=loader)
