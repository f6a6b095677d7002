"""The Open-Assistant tree export with the root message itself on each line: `{message_id,
parent_id: null, role, text, ..., replies: [{...}, ...]}` (no `prompt` wrapper).

Each line becomes its messages, in the same flat form as the message table (parent ids filled
in from the nesting, the tree id and state taken from the root), so both exports of the same
trees give the same threads.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator


def is_nested_root(row: Any) -> bool:
    """A root message carrying its replies (not a message-table row, not a `prompt` tree)."""
    return (isinstance(row, dict) and "message_id" in row and "prompt" not in row
            and isinstance(row.get("replies"), list))


def nested_messages(where: str, root: dict, tree: Any = None, state: Any = None) -> Iterator[tuple[str, dict]]:
    """The messages of one nested tree, root first, breadth first, each with its `parent_id`;
    tree id and state default to the root's own."""
    tree = tree or root.get("message_tree_id") or root.get("message_id")
    state = state if state is not None else root.get("tree_state")
    queue: deque[tuple[dict, Any, str]] = deque([(root, root.get("parent_id"), where)])
    while queue:
        node, parent, path = queue.popleft()
        msg = {k: v for k, v in node.items() if k != "replies"}
        msg.setdefault("parent_id", parent)
        msg.setdefault("message_tree_id", tree)
        msg.setdefault("tree_state", state)
        yield path, msg
        replies = node.get("replies") or []
        if isinstance(replies, list):
            queue.extend((r, node.get("message_id"), f"{path}.replies[{i}]")
                         for i, r in enumerate(replies) if isinstance(r, dict))
