"""The offset index beside a stage file: built once, reused, rebuilt when the file changes."""

from __future__ import annotations

import json

import numpy as np

from pipeline.review.index import index_path, open_index
from pipeline.review.query import Query, search_rows, select_rows


def write(path, rows):
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows))


def rec(i, text, **meta):
    return {"id": f"id{i}", "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
            "meta": meta}


def test_index_is_saved_reused_and_rebuilt_on_change(tmp_path):
    data = tmp_path / "data.jsonl"
    write(data, [rec(0, "alpha", source="a", scores={"q": 1.5}), rec(1, "Béta \"quoted\"", source="b"),
                 rec(2, "gamma", source="a", scores={"q": 3})])
    idx = open_index(data, "kept")
    saved = index_path(data, "kept")
    assert saved.exists() and saved.parent == tmp_path / ".review"
    assert len(idx) == 3 and [r["id"] for r in idx.read_rows([2, 0])] == ["id2", "id0"]
    assert idx.find("id1") == [1] and idx.find("nope") == []
    assert idx.facet_counts() == {"source": {"a": 2, "b": 1}}
    mtime = saved.stat().st_mtime_ns
    again = open_index(data, "kept")
    assert saved.stat().st_mtime_ns == mtime and np.array_equal(again.offsets, idx.offsets)
    with open(data, "ab") as fh:
        fh.write(json.dumps(rec(3, "delta", source="c")).encode() + b"\n")
    assert len(open_index(data, "kept")) == 4


def test_a_torn_last_line_is_left_out(tmp_path):
    data = tmp_path / "data.jsonl"
    write(data, [rec(0, "alpha")])
    with open(data, "ab") as fh:
        fh.write(b'{"id": "id1", "mess')
    assert len(open_index(data, "kept")) == 1


def test_search_is_case_insensitive_and_matches_escaped_text(tmp_path):
    data = tmp_path / "data.jsonl"
    write(data, [rec(0, "Alpha beta"), rec(1, 'say "hi"'), rec(2, "Béta"), rec(3, "ALPHA again alpha")])
    idx = open_index(data, "kept")
    assert search_rows(idx, "alpha").tolist() == [0, 3]
    assert search_rows(idx, '"hi"').tolist() == [1]
    assert search_rows(idx, "Béta").tolist() == [2]
    assert select_rows(idx, Query(q="ALPHA")).tolist() == [0, 3]


def test_rejected_file_facets_reason_and_raw_rows(tmp_path):
    rej = tmp_path / "rejected.jsonl"
    write(rej, [{"reason": "too_short@turn2", "detail": "x", "record": rec(0, "a", source="s")},
                {"reason": "bad_json", "raw": "{oops", "where": "in.jsonl:3"}])
    idx = open_index(rej, "rejected")
    assert idx.facet_counts()["reason"] == {"too_short": 1, "bad_json": 1}
    assert idx.find("id0") == [0]
    offset = int(idx.offsets[1])
    assert idx.find(f"raw@{offset}") == [1]
    assert select_rows(idx, Query(kind="rejected", facets=(("reason", "bad_json"),))).tolist() == [1]
