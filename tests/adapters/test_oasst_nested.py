"""The oasst source reads the tree export with the root message on each line (nested `replies`):
the same threads as the message table and the `message_tree_id`/`prompt` export of the same trees."""

from __future__ import annotations

import json

import pytest

from tests.adapters.helpers import ingest, write
from tests.conftest import FIXTURES

SLICE = FIXTURES / "oasst" / "oasst1_en_validation_slice.jsonl"


def trees() -> tuple[list[dict], list[dict]]:
    """The fixture's messages (orphans left out: no tree holds them) and their roots, nested."""
    rows = [json.loads(x) for x in SLICE.read_text().splitlines()]
    ids = {r["message_id"] for r in rows}
    rows = [r for r in rows if r["parent_id"] is None or r["parent_id"] in ids]
    nodes = {r["message_id"]: {**r, "replies": []} for r in rows}
    roots = []
    for r in rows:
        (nodes[r["parent_id"]]["replies"] if r["parent_id"] else roots).append(nodes[r["message_id"]])
    return rows, roots


def as_lines(items) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)


@pytest.mark.parametrize("paths", ["best", "all"])
def test_nested_root_export_gives_the_same_threads(tmp_path, paths):
    rows, roots = trees()
    assert len(roots) == 10
    table = ingest(tmp_path, "oasst", write(tmp_path, "table.jsonl", as_lines(rows)), paths=paths)
    prompt_form = ingest(tmp_path, "oasst", write(tmp_path, "prompt.jsonl", as_lines(
        {"message_tree_id": r["message_tree_id"], "tree_state": r["tree_state"],
         "prompt": {k: v for k, v in r.items() if k not in ("message_tree_id", "tree_state")}} for r in roots)),
        paths=paths)
    nested = ingest(tmp_path, "oasst", write(tmp_path, "nested.jsonl", as_lines(roots)), paths=paths)
    assert len(table.records) >= 10
    assert nested.records == table.records == prompt_form.records
    assert nested.reasons() == table.reasons() == prompt_form.reasons()
    assert nested.stats["consumed"] == table.stats["consumed"] == len(rows) - sum(table.reasons().values())


def test_nested_replies_of_deleted_messages_are_dropped_with_reasons(tmp_path):
    root = {"message_id": "r", "parent_id": None, "role": "prompter", "text": "Hi?", "lang": "en",
            "replies": [{"message_id": "a1", "role": "assistant", "text": "Hello.", "rank": 1},
                        {"message_id": "a0", "role": "assistant", "text": "Hey!", "rank": 0, "deleted": True,
                         "replies": [{"message_id": "p2", "role": "prompter", "text": "More?"}]}]}
    res = ingest(tmp_path, "oasst", write(tmp_path, "n.jsonl", as_lines([root])))
    assert [r["messages"] for r in res.records] == [[{"role": "user", "content": "Hi?"},
                                                     {"role": "assistant", "content": "Hello."}]]
    assert res.records[0]["meta"]["tree_id"] == "r" and res.records[0]["meta"]["lang"] == "en"
    assert res.reasons() == {"deleted": 1, "parent_dropped": 1}
    where = {r["reason"]: r["where"] for r in res.rejected}
    assert where["parent_dropped"].endswith("n.jsonl:1.replies[1].replies[0]")
