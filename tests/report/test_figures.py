"""Units of the report: token estimate, distributions, score and similarity reading, the
generated/ingested split, key figures, the diversity counts, histogram bins and SVG escaping."""

from __future__ import annotations

import random

from pipeline.report.charts import hbars, histogram_bars, tick_positions
from pipeline.report.collect import Reservoir, reason_of, sample_file
from pipeline.report.diversity import Diversity
from pipeline.report.figures import (Dist, RecordStats, estimate_tokens, flat_scores, key_figures,
                                     llm_totals, top_similarity)


def chat(user: str, answer: str | None = "ok") -> list[dict]:
    msgs = [{"role": "user", "content": user}]
    return msgs + ([{"role": "assistant", "content": answer}] if answer is not None else [])


def test_token_estimate_counts_4_chars_per_token_and_1_per_cjk_character():
    assert [estimate_tokens(t) for t in ("", "abc", "abcd", "abcde", "a" * 400)] == [0, 1, 1, 2, 100]
    assert estimate_tokens("请写一首关于猫的诗") == 9
    assert estimate_tokens("猫咪 cat") == 2 + 1
    assert estimate_tokens("café au lait") == 3


def test_dist_quantiles_and_summary():
    d = Dist()
    for v in range(1, 11):
        d.add(v)
    assert d.summary() == {"n": 10, "min": 1, "p50": 5, "mean": 5.5, "p90": 9, "max": 10}
    assert Dist().summary() == {"n": 0}
    f = Dist()
    f.add(0.123456)
    assert f.counts == {0.1235: 1}


def test_scores_are_numeric_leaves_and_similarity_takes_the_top_score():
    scores = {"judge": 4.5, "judge_explanation": "fine", "deita": {"quality": 3, "ok": True}, "nan": float("nan")}
    assert list(flat_scores(scores)) == [("judge", 4.5), ("deita.quality", 3)]
    assert list(flat_scores("4.5")) == []
    assert top_similarity(0.3) == 0.3
    assert top_similarity({"a": 0.2, "b": 0.7}) == 0.7
    assert top_similarity([["a", 0.1], ["b", 0.5]]) == 0.5
    assert top_similarity({"instruction": "x", "score": 0.6}) == 0.6
    assert top_similarity("similar") is None and top_similarity({}) is None


def test_records_count_as_generated_by_model_or_llm_stage():
    rs = RecordStats({"seeds": "ingest", "gen": "fake_llm"}, frozenset({"fake_llm"}))
    assert rs.observe(chat("Write a poem"), {"stage": "seeds", "source": "s"}) is False
    assert rs.observe(chat("Write a song"), {"stage": "gen", "source": "g"}) is True
    assert rs.observe(chat("Write a joke"), {"stage": "seeds", "model": "m", "source": "s"}) is True
    assert rs.observe(chat("Open one", None), {"stage": "seeds", "source": "s", "lang": "en"}) is False
    assert rs.origin == {"ingested": 2, "generated": 2}
    assert rs.ops == {("ingest", "ingested"): 2, ("fake_llm", "generated"): 1, ("ingest", "generated"): 1}
    assert rs.response_tokens.n == 3 and rs.instruction_tokens.n == 4
    assert rs.langs == {"unknown": 3, "en": 1}


def test_key_figures_rows():
    rs = RecordStats()
    rs.observe(chat("abcdefgh", "abcd"), {"source": "a", "scores": {"judge": 5}, "avg_similarity": 0.25})
    rs.observe(chat("abcd") + chat("abcd", "abcdefghijkl"), {"source": "b", "scores": {"judge": 4}})
    llm = llm_totals([{"requests": 3, "cached": 1, "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.001},
                      {"requests": 2, "cost_usd": 0.0005, "tokens_in": "x"}])
    assert llm == {"requests": 5, "cached": 1, "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.0015}
    assert key_figures(rs, llm) == [
        ("records", "2"), ("generated in this run", "0 (0.0%)"), ("sources", "2: a 50.0%, b 50.0%"),
        ("languages", "unknown 100.0%"), ("user turns per record", "median 1, mean 1.5, p90 2, max 2"),
        ("multi-turn records", "1"), ("instruction tokens (est.)", "median 1, mean 1.5, p90 2, max 2"),
        ("response tokens (est.)", "median 1, mean 2.0, p90 3, max 3"),
        ("score judge", "median 4, mean 4.50 (2 scored)"),
        ("novelty avg_similarity", "median 0.25, mean 0.250, p90 0.25, max 0.25"),
        ("LLM requests (cache hits)", "5 (1)"), ("LLM tokens in / out", "10 / 5"), ("LLM cost (USD)", "0.0015")]
    assert key_figures(RecordStats()) == [("records", "0")]


def test_diversity_counts_leading_words_bigrams_and_verb_object_pairs():
    div = Diversity()
    for text in ("Please write a poem about cats.", "Write a short story.", "What is the capital of France?",
                 "Given a sentence, fix it", "123 !!", ""):
        div.observe(text)
    assert div.n == 4
    assert div.top("leading") == [("write", 2), ("given", 1), ("what", 1)]
    assert div.top("bigrams") == [("write a", 2), ("given a", 1), ("what is", 1)]
    assert div.top("pairs") == [("given \u2192 sentence", 1), ("what \u2192 capital", 1),
                                ("write \u2192 poem", 1), ("write \u2192 story", 1)]


def test_histogram_bins_values_with_an_overflow_bin():
    d = Dist()
    for v in range(100):
        d.add(v)
    bars = histogram_bars(d)
    assert len(bars) == 26
    assert bars[0] == ("0\u20133", 4) and bars[24] == ("96\u201398", 3) and bars[25] == (">98", 1)
    assert sum(c for _, c in bars) == 100
    few = Dist()
    for v in (1, 1, 2, 5):
        few.add(v)
    assert histogram_bars(few) == [("1", 2), ("2", 1), ("5", 1)]
    assert tick_positions(3) == {0, 1, 2} and tick_positions(26) == {0, 5, 10, 15, 20, 25}


def test_chart_labels_are_escaped():
    svg = str(hbars([("<script>alert(1)</script>", 3), ("a & b", 1)], "t<i>tle"))
    assert "<script" not in svg and "<i>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "a &amp; b" in svg and "t&lt;i&gt;tle" in svg


def test_reservoir_is_seeded_uniform_and_in_order():
    lines = [f'{{"n":{i}}}\n'.encode() for i in range(1000)]

    def draw(seed):
        res = Reservoir(5, random.Random(seed))
        for line in lines:
            res.offer(line)
        return [r["n"] for r in res.records()]

    assert draw(1) == draw(1) and draw(1) != draw(2)
    assert draw(1) == sorted(draw(1)) and len(draw(1)) == 5
    small = Reservoir(5, random.Random(0))
    for line in lines[:3]:
        small.offer(line)
    assert [r["n"] for r in small.records()] == [0, 1, 2] and small.seen == 3


def test_reason_is_read_from_the_line_head_or_decoded():
    assert reason_of(b'{"reason":"bad_schema:\\"x\\"","detail":"d"}\n') == 'bad_schema:"x"'
    assert reason_of(b'{"detail":"d","reason":"late"}\n') == "late"
    assert reason_of(b"not json\n") == "unreadable"


def test_sample_file_is_uniform_seeded_and_in_file_order(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(f'{{"n":{i}}}\n' for i in range(100)))
    hits = [0] * 100
    for seed in range(4000):
        picked = [r["n"] for r in sample_file(path, 5, random.Random(seed))]
        assert len(picked) == 5 and picked == sorted(picked)
        for n in picked:
            hits[n] += 1
    assert min(hits) > 120 and max(hits) < 280  # binomial(4000, 0.05): mean 200, sd 14
    assert sample_file(path, 5, random.Random(1)) == sample_file(path, 5, random.Random(1))
    assert [r["n"] for r in sample_file(path, 500, random.Random(1))] == list(range(100))
    assert sample_file(tmp_path / "missing.jsonl", 5, random.Random(1)) == []
