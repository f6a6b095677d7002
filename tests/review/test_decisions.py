"""The decisions file: checked lines, latest-per-reviewer verdicts, crash safety under SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.errors import ConfigError
from pipeline.review.decisions import DecisionLog, append_decisions, make_decision
from tests.conftest import ROOT

EDIT = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


def test_make_decision_checks_each_field():
    d = make_decision("abc", "edit", " ann ", reason="typo", messages=EDIT)
    assert set(d) == {"record_id", "action", "reason", "messages", "reviewer", "time"}
    assert d["reviewer"] == "ann" and d["messages"] == EDIT
    for kwargs, field in [(dict(record_id=""), "record_id"), (dict(action="delete"), "action"),
                          (dict(reviewer=""), "reviewer"), (dict(reason=5), "reason"),
                          (dict(action="edit", messages=[{"role": "user"}]), "messages"),
                          (dict(action="accept", messages=EDIT), "messages")]:
        args = {"record_id": "abc", "action": "accept", "reviewer": "ann", **kwargs}
        with pytest.raises(ConfigError, match=f"^{field}"):
            make_decision(**args)


def test_latest_decision_per_reviewer_counts_and_edits_survive_a_later_accept(tmp_path):
    path = tmp_path / "reviews" / "s.jsonl"
    append_decisions(path, [make_decision("r1", "reject", "ann", reason="bad"),
                            make_decision("r1", "accept", "bob"),
                            make_decision("r1", "edit", "ann", messages=EDIT),
                            make_decision("r1", "accept", "bob"),
                            make_decision("r2", "flag", "ann")])
    log = DecisionLog(path).refresh()
    assert [(d["reviewer"], d["action"]) for d in log.of("r1")] == [("ann", "edit"), ("bob", "accept")]
    v = log.verdict("r1")
    assert (v.action, v.reviewer, v.messages, v.edited_by) == ("accept", "bob", EDIT, "ann")
    flag = log.verdict("r2")
    assert flag.action is None and flag.flagged
    append_decisions(path, [make_decision("r1", "reject", "bob", reason="no")])
    assert log.refresh().verdict("r1").action == "reject"  # incremental read sees the new line


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_fresh(tmp_path):
    path = tmp_path / "d.jsonl"
    append_decisions(path, [make_decision("r1", "accept", "ann")])
    with open(path, "ab") as fh:
        fh.write(b'{"record_id": "r2", "action": "rej')  # what a killed writer leaves
    log = DecisionLog(path).refresh()
    assert [d["record_id"] for d in log.lines] == ["r1"]
    append_decisions(path, [make_decision("r3", "reject", "ann")])
    log = DecisionLog(path).refresh()
    assert [d["record_id"] for d in log.lines] == ["r1", "r3"] and log.torn == 1
    assert path.read_bytes().count(b"\n") == 3


WRITER = """
import sys
from pipeline.review.decisions import append_decisions, make_decision
big = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x" * 4_000_000}]
i = 0
print("ready", flush=True)
while True:
    append_decisions(__import__("pathlib").Path(sys.argv[1]),
                     [make_decision(f"r{i}", "edit", "ann", messages=big), make_decision(f"r{i}", "flag", "bob")])
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_sigkill_during_writes_leaves_a_readable_file(tmp_path, delay):
    path = tmp_path / "reviews" / "s.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    log = DecisionLog(path).refresh()
    assert log.torn == 0  # a torn tail is not counted: it is simply not complete yet
    content = path.read_bytes() if path.exists() else b""
    complete = content[:content.rfind(b"\n") + 1].split(b"\n")  # nothing when the first line is torn
    assert all(json.loads(x)["reviewer"] in ("ann", "bob") for x in complete if x)
    append_decisions(path, [make_decision("after", "accept", "cat")])
    log = DecisionLog(path).refresh()
    assert log.lines[-1]["record_id"] == "after" and log.torn <= 1
