"""Cherry LLM's prompts and brief-experience sampling, without a model (the scoring itself is
tested in test_ifd.py, which needs the `ifd` extra)."""

from __future__ import annotations

import numpy as np

from pipeline.ops.ifd import prompt_text, split
from pipeline.ops.ifd_experience import middle_sample
from pipeline.record import Record


def test_alpaca_template_with_its_input_section():
    assert prompt_text("alpaca", "Sum the numbers.", "2, 3") == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n### Instruction:\nSum the numbers.\n\n"
        "### Input:\n2, 3\n\n### Response:")
    assert prompt_text("alpaca", "Name a colour.", "") == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the "
        "request.\n\n### Instruction:\nName a colour.\n\n### Response:")
    assert prompt_text("plain", "Sum the numbers.", "2, 3") == "Sum the numbers.\n\n2, 3\n\n### Response:"


def test_the_input_is_read_from_meta_when_the_turn_ends_with_it():
    rec = Record.new([{"role": "user", "content": "Sum the numbers.\n\n2, 3"},
                      {"role": "assistant", "content": "5"}], {"input": "2, 3"})
    assert split(rec) == ("Sum the numbers.", "2, 3", "5")
    other = Record.new([{"role": "user", "content": "Sum the numbers."},
                        {"role": "assistant", "content": "5"}], {"input": "7, 8"})   # not this turn's input
    assert split(other) == ("Sum the numbers.", "", "5")


def test_alpaca_source_keeps_the_input_apart(run_stages, ingest):
    r = run_stages(ingest("alpaca", "alpaca_slice.json", limit=20))
    with_input = [x for x in r.records("alpaca") if x["meta"].get("input")]
    assert with_input and all(x["messages"][0]["content"].endswith("\n\n" + x["meta"]["input"]) for x in with_input)


def test_middle_band_evenly_spaced_as_cherry_llm():
    labels = np.array([0] * 12 + [1] * 3)
    ppl = np.array([float(v) for v in range(1, 13)] + [5.0, 1.0, 9.0])
    picked = middle_sample(labels, ppl, 4, 25, 75)
    # cluster 0: perplexities 1..12, the 25th-75th percentile band is 3.75..9.25 -> 4..9 (indices 3..8);
    # six of them, step 6 // 4 = 1 -> the first four; cluster 1 is smaller than n: all of it
    assert picked[0].tolist() == [3, 4, 5, 6] and picked[1].tolist() == [12, 13, 14]
    wide = middle_sample(np.zeros(40, dtype=int), np.arange(40.0), 5, 25, 75)
    assert wide[0].tolist() == [10, 14, 18, 22, 26]     # 20 in the band, every 4th
