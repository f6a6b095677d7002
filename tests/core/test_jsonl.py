import json
import os

import pytest

from pipeline.errors import InputError
from pipeline.jsonl import (BadLine, JsonlAppender, atomic_write_json, iter_json_rows, read_json_array,
                            read_jsonl, repair_tail)


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_bom_crlf_and_blank_lines(tmp_path):
    p = write(tmp_path, "a.jsonl", b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": 2}\r\n')
    assert list(read_jsonl(p)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_broken_line_3_names_file_line_col(tmp_path):
    p = write(tmp_path, "d.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3,, }\n{"a": 4}\n')
    with pytest.raises(InputError) as e:
        list(read_jsonl(p))
    assert str(e.value).startswith(f"{p}:3:9: ")


def test_lenient_mode_yields_bad_lines_and_goes_on(tmp_path):
    p = write(tmp_path, "d.jsonl", b'{"a": 1}\n{"a": tru\n"just a string"\n{"a": NaN}\n{"a": 1, "a": 2}\n{"b": 1}\n')
    rows = list(read_jsonl(p, lenient=True))
    assert [n for n, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert isinstance(rows[1][1], BadLine) and rows[1][1].where == f"{p}:2"
    assert rows[2][1] == "just a string"  # valid JSON; the adapter decides it is not a row
    assert "NaN is not valid JSON" in rows[3][1].message
    assert "duplicate key 'a'" in rows[4][1].message
    assert rows[5][1] == {"b": 1}


def test_invalid_utf8_gives_line_and_byte_offset(tmp_path):
    p = write(tmp_path, "u.jsonl", b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"u.jsonl:2:\d+: invalid UTF-8 byte 0xe9 at byte offset 19"):
        list(read_jsonl(p))


def test_utf16_is_refused_with_a_hint(tmp_path):
    p = write(tmp_path, "w.jsonl", '{"a": 1}\n'.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        list(read_jsonl(p))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


def test_json_array_streams_elements_with_line_numbers(tmp_path):
    p = write(tmp_path, "a.json", b'[\n  {"a": 1},\n  {"a": "x\\ny"},\n\n  {"a": [1, 2]}\n]\n')
    assert list(read_json_array(p, chunk_size=5)) == [(2, {"a": 1}), (3, {"a": "x\ny"}), (5, {"a": [1, 2]})]
    # a .json file that is really JSONL
    q = write(tmp_path, "b.json", b'{"a": 1}\n{"a": 2}\n')
    assert [v for _, v in iter_json_rows(q)] == [{"a": 1}, {"a": 2}]


def test_json_array_errors_name_line(tmp_path):
    p = write(tmp_path, "t.json", b'[\n {"a": 1},\n {"a": 2\n')
    with pytest.raises(InputError, match=r"t.json:\d+:\d+: "):
        list(read_json_array(p, chunk_size=4))
    q = write(tmp_path, "m.json", b'[\n {"a": 1},\n {"a" 2}\n]')
    with pytest.raises(InputError, match=r"m.json:3:7: Expecting ':' delimiter"):
        list(read_json_array(q))


def test_repair_tail_cuts_only_a_torn_last_line(tmp_path):
    p = write(tmp_path, "o.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert repair_tail(p) == 12
    assert p.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    assert repair_tail(p) == 0
    q = write(tmp_path, "one.jsonl", b'{"torn')
    assert repair_tail(q) == 6 and q.read_bytes() == b""


def test_appender_writes_whole_lines(tmp_path):
    p = tmp_path / "x" / "o.jsonl"
    with JsonlAppender(p, buffer_bytes=10) as w:
        for i in range(100):
            w.write(json.dumps({"i": i, "t": "é" * i}))
    lines = p.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["i"] for x in lines] == list(range(100))


def test_atomic_write_ignores_stale_tmp(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write_json(target, {"v": 1})
    (tmp_path / "manifest.json.tmp").write_text("garbage from a killed write")
    assert json.loads(target.read_text()) == {"v": 1}
    atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert not os.path.exists(tmp_path / "manifest.json.tmp")


def test_json_array_text_after_the_closing_bracket_is_an_error(tmp_path):
    p = write(tmp_path, "a.json", b'[{"a": 1},\n {"a": 2}]\n  {"a": 3}\n')
    with pytest.raises(InputError, match=r"a\.json:3:3: unexpected text after the closing '\]'"):
        list(read_json_array(p))
    # whitespace after the array is fine
    assert len(list(read_json_array(write(tmp_path, "b.json", b'[{"a": 1}]\n\n  \n')))) == 1


def test_json_array_rejects_duplicate_keys_like_jsonl(tmp_path):
    p = write(tmp_path, "d.json", b'[{"a": 1},\n {"a": 2,\n  "a": 3}]\n')
    with pytest.raises(InputError, match=r"d\.json:2:\d+: duplicate key 'a'"):
        list(read_json_array(p, chunk_size=8))
    with pytest.raises(InputError, match=r"d\.jsonl:1:1: duplicate key 'a'"):
        list(read_jsonl(write(tmp_path, "d.jsonl", b'{"a": 2, "a": 3}\n')))


def test_json_array_nested_too_deeply_is_one_line_error(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    p = write(tmp_path, "deep.json", b'[{"a": 1},\n' + deep + b"]\n")
    with pytest.raises(InputError, match=r"deep\.json:2:\d+: JSON nested too deeply"):
        list(read_json_array(p))


def test_strict_malformed_line_error_suggests_lenient(tmp_path):
    p = write(tmp_path, "m.jsonl", b'{"a": 1}\n{"a": \n')
    with pytest.raises(InputError, match=r"m\.jsonl:2:\d+: .*lenient: true"):
        list(read_jsonl(p))



def test_json_array_lenient_mode_yields_rule_breaking_elements_as_bad_lines(tmp_path):
    p = write(tmp_path, "d.json", b'[{"a": 1},\n {"a": 2, "a": 3},\n {"a": NaN},\n {"a": 4}]\n')
    rows = list(read_json_array(p, lenient=True))
    assert [v for _, v in rows if not isinstance(v, BadLine)] == [{"a": 1}, {"a": 4}]
    bad = [v for _, v in rows if isinstance(v, BadLine)]
    assert [(b.lineno, b.col) for b in bad] == [(2, 2), (3, 2)]
    assert "duplicate key 'a'" in bad[0].message and bad[0].raw == '{"a": 2, "a": 3}'
    with pytest.raises(InputError, match=r"d\.json:2:2: duplicate key 'a' .*lenient: true"):
        list(read_json_array(p))
