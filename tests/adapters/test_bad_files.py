"""Bad input files give one clear `file:line` error (exit 1) or a rejected row with a reason,
never a traceback: deep nesting, huge numbers, corrupt parquet, CSV damage, FIFOs."""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager

import pytest

from pipeline.errors import InputError
from tests.adapters.helpers import ingest, jsonl, write
from tests.conftest import SAMPLES, cli

ROW = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


def test_sni_task_file_nested_too_deeply(tmp_path):
    task = json.loads((SAMPLES / "sni_task1319_sample.json").read_text(encoding="utf-8"))
    text = json.dumps(task, indent=1).replace('"Definition"', '"Deep": ' + "[" * 50_000 + "]" * 50_000
                                               + ',\n "Definition"', 1)
    path = write(tmp_path, "task1_deep.json", text)
    with pytest.raises(InputError, match=r"task1_deep\.json:\d+:\d+: JSON nested too deeply"):
        ingest(tmp_path, "sni", path)


def test_alpaca_json_array_nested_too_deeply_through_the_cli(tmp_path):
    path = write(tmp_path, "deep.json", "[" + json.dumps(ROW) + ",\n" + "[" * 100_000 + "]" * 100_000 + "]")
    recipe = write(tmp_path, "r.yaml", f"name: t\nstages:\n  - {{id: a, op: ingest, source: alpaca, path: {path}}}\n")
    proc = cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error: " in proc.stderr and "deep.json:2:" in proc.stderr and "nested too deeply" in proc.stderr


def test_oasst_rank_too_large_is_rejected(tmp_path):
    rows = [{"message_id": "p", "parent_id": None, "role": "prompter", "text": "Hi there"},
            {"message_id": "a", "parent_id": "p", "role": "assistant", "text": "Hello", "rank": 0},
            {"message_id": "b", "parent_id": "p", "role": "assistant", "text": "Hey"}]
    data = jsonl(*rows).replace('"text": "Hey"', '"text": "Hey", "rank": 1e400')
    res = ingest(tmp_path, "oasst", write(tmp_path, "o.jsonl", data))
    assert res.reasons() == {"bad_schema:rank": 1}
    assert "finite" in res.rejected[0]["detail"] and res.rejected[0]["where"].endswith("o.jsonl:3")
    assert len(res.records) == 1


def test_oasst_linear_thread_of_20000_messages(tmp_path):
    n = 20_000
    rows = [{"message_id": f"m{i}", "parent_id": f"m{i - 1}" if i else None,
             "role": "prompter" if i % 2 == 0 else "assistant", "text": f"turn {i}"} for i in range(n)]
    res = ingest(tmp_path, "oasst", write(tmp_path, "deep.jsonl", jsonl(*rows)))
    assert len(res.records) == 1 and len(res.records[0]["messages"]) == n
    # a cycle hanging off the thread is still found
    rows += [{"message_id": "c1", "parent_id": "c2", "role": "prompter", "text": "x"},
             {"message_id": "c2", "parent_id": "c1", "role": "assistant", "text": "y"}]
    res = ingest(tmp_path, "oasst", write(tmp_path, "cyc.jsonl", jsonl(*rows)))
    assert res.reasons() == {"parent_cycle": 1, "parent_dropped": 1} and len(res.records) == 1


def corrupt_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    n = 3000
    table = pa.table({"instruction": [f"Task number {i}" for i in range(n)],
                      "input": [""] * n, "output": [f"Answer {i} " * 5 for i in range(n)]})
    pq.write_table(table, path, row_group_size=1024, compression="none")
    page = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[page:page + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return path


def test_parquet_corrupt_page_after_1024_rows(tmp_path):
    path = corrupt_parquet(tmp_path)
    with pytest.raises(InputError, match=r"a\.parquet:row1025: cannot read this parquet file past row 1024"):
        ingest(tmp_path, "alpaca", path)


def test_csv_row_with_extra_columns_is_rejected_naming_its_line(tmp_path):
    path = write(tmp_path, "a.csv", "instruction,input,output\nName a colour.,,Blue.\nName a fruit.,,Apple.,extra\n")
    res = ingest(tmp_path, "alpaca", path)
    assert len(res.records) == 1 and res.reasons() == {"bad_schema:columns": 1}
    assert res.rejected[0]["where"].endswith("a.csv:3") and "4 fields" in res.rejected[0]["detail"]
    assert "extra" in json.dumps(res.rejected[0]["raw"])


def test_csv_unterminated_quote_is_an_error_naming_where_it_opened(tmp_path):
    path = write(tmp_path, "q.csv", "instruction,input,output\nName a colour.,,Blue.\n"
                                    '"Name a fruit.,,Apple.\nName a tree.,,Oak.\nName a dog.,,Rex.\n')
    with pytest.raises(InputError, match=r"q\.csv:3: unterminated quoted field"):
        ingest(tmp_path, "alpaca", path)


def test_csv_invalid_utf8_names_the_real_line(tmp_path):
    body = "instruction,input,output\n" + "Name a colour.,,Blue.\n" * 5000
    path = write(tmp_path, "u.csv", body.encode() + b"Name \xff thing.,,x\n")
    with pytest.raises(InputError, match=r"u\.csv:5002:6: invalid UTF-8 byte 0xff"):
        ingest(tmp_path, "alpaca", path)


@contextmanager
def fifo_at(path):
    """A FIFO at `path`; a reader that wrongly opened it is released after 5 s (no hung test)."""
    os.mkfifo(path)
    done = threading.Event()

    def release() -> None:
        if not done.wait(5):
            with open(path, "w"):
                pass

    threading.Thread(target=release, daemon=True).start()
    try:
        yield path
    finally:
        done.set()


@pytest.mark.parametrize("name", ["pipe.jsonl", "pipe.json", "pipe.csv"])
def test_ingest_refuses_a_fifo(tmp_path, name):
    with fifo_at(tmp_path / name) as fifo, pytest.raises(InputError, match="not a regular file"):
        ingest(tmp_path, "alpaca", fifo)


def test_csv_blank_lines_before_the_header_are_skipped(tmp_path):
    path = write(tmp_path, "b.csv", "\n\ninstruction,input,output\nName a colour.,,Blue.\n")
    res = ingest(tmp_path, "alpaca", path)
    assert len(res.records) == 1 and res.records[0]["messages"][1]["content"] == "Blue."


def test_a_fifo_as_templates_file_or_task_list_is_refused(tmp_path):
    rows = write(tmp_path, "rows.jsonl", jsonl({"text": "x"}))
    with fifo_at(tmp_path / "t.yaml") as fifo, pytest.raises(InputError, match="not a regular file"):
        ingest(tmp_path, "promptsource", rows, templates=str(fifo))
    with fifo_at(tmp_path / "tasks.txt") as fifo, pytest.raises(InputError, match="not a regular file"):
        ingest(tmp_path, "sni", SAMPLES / "sni_task1319_sample.json", tasks_file=str(fifo))


def test_duplicate_keys_agree_between_json_and_jsonl(tmp_path):
    dup = '{"instruction": "Name a colour.", "output": "Blue.", "output": "Red."}'
    for name, data in (("d.jsonl", dup + "\n" + json.dumps(ROW) + "\n"),
                       ("d.json", "[" + dup + ",\n" + json.dumps(ROW) + "]")):
        with pytest.raises(InputError, match=rf"d\.{name[2:]}:1:\d+: duplicate key 'output'"):
            ingest(tmp_path, "alpaca", write(tmp_path, name, data))
        res = ingest(tmp_path, "alpaca", write(tmp_path, name, data), lenient=True)
        assert res.reasons() == {"bad_json": 1} and len(res.records) == 1


def test_flan_csv_row_with_extra_columns_is_rejected_not_a_crash(tmp_path):
    path = write(tmp_path, "f.csv", "inputs,targets,task_source\nWhat is 1+1?,2,cot\nWhat is 2+2?,4,cot,x\n")
    res = ingest(tmp_path, "flan", path, task_sources=["cot"])
    assert len(res.records) == 1 and res.reasons() == {"bad_schema:columns": 1}
