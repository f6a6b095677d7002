"""InsTag's Algorithm 1 on hand-made tags, and the op through a recipe."""

import json

from pipeline.ops.instag_sample import passes


def test_complexity_first_passes():
    tags = [{"a"}, {"a", "b", "c"}, {"b", "d"}, set(), {"a", "b"}, {"e"}, {"c"}]
    # ranked by tag count: 1 (3 tags), 2, 4 (2 tags), 0, 5, 6 (1 tag); record 3 has none
    # pass 1: 1 takes a,b,c; 2 brings d; 4 brings nothing; 0 nothing; 5 brings e; 6 nothing
    # pass 2: 4 brings a,b; 0 nothing new (a seen); 6 brings c. pass 3: 0.
    assert passes(tags, 10) == {1: 1, 2: 1, 5: 1, 4: 2, 6: 2, 0: 3}
    assert passes(tags, 4) == {1: 1, 2: 1, 5: 1, 4: 2}


def test_instag_sample_op(tmp_path):
    from pipeline.recipe import build_recipe
    from pipeline.runner import Runner

    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
             "meta": {"tags": t}} for i, t in enumerate([["a"], ["a", "b", "c"], ["b", "d"], [], ["a", "b"]])]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = build_recipe({"name": "t", "stages": [
        {"id": "in", "op": "ingest", "source": "messages", "path": str(data)},
        {"id": "pick", "op": "instag_sample", "inputs": ["in"], "budget": 3}]}, tmp_path)
    Runner(recipe, tmp_path / "out").run()
    kept = [json.loads(x) for x in (tmp_path / "out" / "pick" / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "out" / "pick" / "rejected.jsonl").read_text().splitlines()]
    assert [r["messages"][0]["content"] for r in kept] == ["q1", "q2", "q4"]      # input order
    assert [r["meta"]["instag_pass"] for r in kept] == [1, 1, 2]
    assert sorted(r["reason"] for r in rejected) == ["no_tags", "over_budget"]
