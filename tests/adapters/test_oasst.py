import json

from tests.adapters.helpers import SHARED, check_malformed_jsonl, ingest, jsonl, needs_shared, write
from tests.conftest import FIXTURES

SLICE = FIXTURES / "oasst" / "oasst1_en_validation_slice.jsonl"
ROWS = [json.loads(x) for x in SLICE.read_text(encoding="utf-8").splitlines()]


def usable(m):
    return not m["deleted"] and m["review_result"] is not False


def expected_best_thread(root_id):
    """The best-ranked path computed directly from the rows (lowest rank at every step)."""
    by_parent = {}
    for m in ROWS:
        by_parent.setdefault(m["parent_id"], []).append(m)
    path = [next(m for m in ROWS if m["message_id"] == root_id)]
    while True:
        kids = [k for k in by_parent.get(path[-1]["message_id"], []) if usable(k)]
        if not kids:
            break
        ranked = [k for k in kids if k["rank"] is not None]
        path.append(min(ranked, key=lambda k: k["rank"]) if ranked else kids[0])
    while path[-1]["role"] != "assistant":
        path.pop()
    return [{"role": "user" if m["role"] == "prompter" else "assistant", "content": m["text"].strip()}
            for m in path]


def test_slice_best_threads_and_orphans_counted(tmp_path):
    res = ingest(tmp_path, "oasst", SLICE)
    assert res.stats["records_in"] == 114 and len(res.records) == 10
    assert res.stats["orphans"] == 3 and res.stats["consumed"] == 28 and res.stats["generated"] == 10
    assert res.reasons() == {"orphan": 3, "deleted": 2, "review_failed": 3, "parent_dropped": 8,
                             "not_on_best_path": 69, "no_assistant_reply": 1}
    roots = [m["message_id"] for m in ROWS if m["parent_id"] is None]
    assert [r["messages"] for r in res.records] == [expected_best_thread(root) for root in roots]


def test_golden_first_thread(tmp_path):
    rec = ingest(tmp_path, "oasst", SLICE).records[0]
    assert rec["messages"][0] == {"role": "user", "content": "What do you think about ChatGPT?"}
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant", "user", "assistant"]
    assert rec["meta"] == {"source": "oasst", "tree_id": "e0cf4fa2-e944-44fb-b502-11f155062092",
                           "orig_id": "c8dc7c16-e493-4078-bdc7-368b24476ca9", "lang": "en",
                           "license": "Apache-2.0", "stage": "main"}


def test_all_paths_and_filters(tmp_path):
    res = ingest(tmp_path, "oasst", SLICE, paths="all")
    assert len(res.records) == 52 and res.stats["consumed"] == 88
    assert all(r["messages"][-1]["role"] == "assistant" for r in res.records)
    assert len({json.dumps(r["messages"]) for r in res.records}) == 52
    assert ingest(tmp_path, "oasst", SLICE, languages=["de"]).stats["skipped_lang"] == 114
    limited = ingest(tmp_path, "oasst", SLICE, limit=2)
    assert len(limited.records) == 2 and limited.stats["records_in"] < 114


def nest(rows):
    """The message table as oasst's nested tree export (one tree per line)."""
    nodes = {m["message_id"]: {**{k: v for k, v in m.items() if k not in ("parent_id",)}, "replies": []}
             for m in rows}
    trees = []
    for m in rows:
        if m["parent_id"] is None:
            trees.append({"message_tree_id": m["message_tree_id"], "tree_state": m["tree_state"],
                          "prompt": nodes[m["message_id"]]})
        elif m["parent_id"] in nodes:
            nodes[m["parent_id"]]["replies"].append(nodes[m["message_id"]])
    return trees


def test_tree_export_gives_the_same_threads(tmp_path):
    table = ingest(tmp_path, "oasst", SLICE)
    trees = ingest(tmp_path, "oasst", write(tmp_path, "trees.jsonl", jsonl(*nest(ROWS))))
    assert [r["messages"] for r in trees.records] == [r["messages"] for r in table.records]
    assert trees.stats["records_in"] == 114 - 3  # the orphans have no tree to sit in


def msg(mid, parent, role, text="t", **extra):
    return {"message_id": mid, "parent_id": parent, "role": role, "text": text, "message_tree_id": "T",
            "deleted": False, "review_result": True, "rank": None, **extra}


def test_malformed(tmp_path):
    check_malformed_jsonl(tmp_path, "oasst", msg("a", None, "prompter"), "text", 5, gives_record=False)
    res = ingest(tmp_path, "oasst", write(tmp_path, "m.jsonl", jsonl(
        msg("a", None, "prompter"), msg("b", "a", "assistant", rank="0"), msg("c", "a", "assistant", text=""),
        msg("d", "a", "robot"), msg("e", "a", "prompter"), msg("f", "e", "assistant"), msg("a", None, "prompter"),
        msg("x", "y", "prompter"), msg("y", "x", "assistant"), msg("z", None, "assistant"))))
    assert res.records == []
    assert res.reasons() == {"bad_schema:rank": 1, "empty_text": 1, "bad_schema:role": 1,
                             "roles_not_alternating": 1, "parent_dropped": 2, "duplicate_message_id": 1,
                             "parent_cycle": 1, "root_not_prompter": 1, "no_assistant_reply": 1}


@needs_shared
def test_full_english_validation_table(tmp_path):
    res = ingest(tmp_path, "oasst", SHARED / "oasst1" / "oasst1_en_validation_messages.jsonl")
    assert res.stats["records_in"] == 2022 and res.stats["orphans"] == 3
    assert len(res.records) == 188  # one best thread per root (188 roots; 191 trees less the 3 orphans')
    assert res.stats["consumed"] + res.stats["rejected"] == 2022


def test_ready_only_keeps_ready_trees(tmp_path):
    ready = ingest(tmp_path, "oasst", SLICE, ready_only=True)
    assert len(ready.records) == 10 and "skipped_tree_state" not in ready.stats
    rows = jsonl(msg("a", None, "prompter", tree_state="growing"), msg("b", "a", "assistant", tree_state="growing"))
    growing = ingest(tmp_path, "oasst", write(tmp_path, "g.jsonl", rows), ready_only=True)
    assert growing.records == [] and growing.stats["skipped_tree_state"] == 2
