"""Issue 15 item 16: every stage's console lines add up, name its top rejection reasons and warn
when it keeps nothing."""

import textwrap
from collections import Counter

from pipeline.runner import done_lines
from tests.conftest import SAMPLES, cli


def test_the_done_line_adds_up_and_names_the_top_reasons():
    c = Counter(records_in=41, generated=6, records_out=6, rejected=25, consumed=16,
                dropped_too_few_turns=20, dropped_empty=3, dropped_refusal=1, dropped_llm_error=1)
    lines = done_lines("chat", c)
    assert lines[0] == "[chat] done: 41 in, 6 out, 25 rejected, 6 generated, 16 consumed"
    assert lines[1] == ("[chat] rejected: too_few_turns 20, empty 3, llm_error 1, 1 more reasons "
                        "(see chat/rejected.jsonl)")
    assert len(lines) == 2
    plain = done_lines("f", Counter(records_in=3, records_out=3))
    assert plain == ["[f] done: 3 in, 3 out, 0 rejected"]


def test_a_stage_that_rejects_everything_warns_through_the_cli(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(f"""
        name: t
        stages:
          - id: a
            op: ingest
            source: alpaca
            path: {SAMPLES / "alpaca_sample.json"}
          - id: strict
            op: filter
            inputs: [a]
            min_words: 100000
            require_complete: true
    """))
    proc = cli("run", str(p), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    done = next(line for line in lines if line.startswith("[strict] done:"))
    n = int(done.split()[2])
    assert done == f"[strict] done: {n} in, 0 out, {n} rejected"
    assert any(line.startswith("[strict] rejected: ") and "strict/rejected.jsonl" in line for line in lines)
    assert "[strict] warning: the stage kept no record; stages reading it get nothing" in lines
    assert not any(line.startswith("[a] warning") for line in lines)
