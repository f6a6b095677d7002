"""The ROUGE-L novelty pool against rouge_score 0.1.2: tokens, scores, decisions, statistics."""

import json
import random

import numpy as np
import pytest

pytest.importorskip("rouge_score")
from rouge_score import rouge_scorer, scoring  # noqa: E402

from pipeline.novelty import NoveltyPool, reference_f1, rouge_l, rouge_tokens, script_tokens, tokenize  # noqa: E402
from pipeline.novelty import pool as pool_module  # noqa: E402
from pipeline.novelty.reference import ReferencePool, boundary_candidate, near_duplicate  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402

DATA = FIXTURES / "novelty"
SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def load(name: str) -> list[str]:
    return [json.loads(line)["instruction"] for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


ALPACA = load("alpaca_1500.jsonl")
RUOZHIBA = load("coig_cqia_ruozhiba_80.jsonl")
HUMAN_VALUE = load("coig_cqia_human_value_multi_choice.jsonl")


def stream(seed: int, base: list[str], n_near: int, n_boundary: int = 0) -> list[str]:
    """`base` with seeded near-duplicates and exact-0.7 candidates inserted after their source."""
    rng = random.Random(seed)
    out = list(base)
    for _ in range(n_near):
        src = rng.randrange(len(base))
        out.insert(out.index(base[src]) + 1 + rng.randrange(3), near_duplicate(base[src], rng, base))
    made = 0
    while made < n_boundary:
        src = base[rng.randrange(len(base))]
        cand = boundary_candidate(rouge_tokens(src), rng, tag=f"zq{made}x")
        if cand:
            out.insert(out.index(src) + 1 + rng.randrange(3), cand)
            made += 1
    return out


def same(a: list, b: list) -> bool:
    """Verdicts equal in every field; the mean only up to summation order."""
    return len(a) == len(b) and all(
        x.avg_similarity == pytest.approx(y.avg_similarity, abs=1e-12)
        and x == pool_module.Verdict(**{**y.__dict__, "avg_similarity": x.avg_similarity})
        for x, y in zip(a, b))


def brute_force(texts: list[str], threshold: float = 0.7) -> list[tuple]:
    """Alpaca's loop, serially: rouge_score against every kept text; (keep, max, mean, top-10)."""
    pool, out = [], []
    for text in texts:
        tokens = SCORER._tokenizer.tokenize(text)
        scores = [rouge_scorer._score_lcs(tokens, p).fmeasure for p in pool]
        keep = not scores or max(scores) <= threshold
        top = sorted((s for s in scores if s > 0), reverse=True)[:10]
        out.append((keep, max(scores, default=0.0), float(np.mean(scores)) if scores else 0.0, top))
        if keep:
            pool.append(tokens)
    return out


# -- tokens ---------------------------------------------------------------------------------------
def test_rouge_tokens_equal_rouge_score_tokenizer():
    rng = random.Random(5)
    alphabet = "aZ09 _-.,'\"\n\tİıKÅéßſﬁ²½Ⅻ中文한국어русский\u0301😀"
    texts = ALPACA + HUMAN_VALUE + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
                                    for _ in range(3000)]
    assert all(rouge_tokens(t) == SCORER._tokenizer.tokenize(t) for t in texts)
    assert rouge_tokens("Kelvin K, İstanbul, naïve_x2") == ["kelvin", "k", "i", "stanbul", "na", "ve", "x2"]


def test_script_tokens_split_each_script_sensibly():
    assert script_tokens("用Python写一个函数，Ｆｕｌｌ　ｗｉｄｔｈ") == \
        ["用", "python", "写", "一", "个", "函", "数", "full", "width"]
    assert script_tokens("Русский язык!") == ["русский", "язык"]
    assert script_tokens("हिन्दी भाषा") == ["हिन्दी", "भाषा"]          # combining vowel signs stay in the word
    assert script_tokens("ภาษาไทย") == list("ภาษาไทย")
    assert script_tokens("日本語のテキスト") == list("日本語のテキスト")
    assert all(script_tokens(t) == rouge_tokens(t) for t in ALPACA if t.isascii())


def test_auto_uses_rouge_tokens_unless_text_is_mainly_non_latin():
    assert tokenize("Translate 'Bonjour, ça va?' into English") == \
        rouge_tokens("Translate 'Bonjour, ça va?' into English")
    assert tokenize("Find English translation of the following Korean phrase - 장보기") == \
        rouge_tokens("Find English translation of the following Korean phrase - 장보기")
    assert tokenize("天下没有不散的筵席 ok") == list("天下没有不散的筵席") + ["ok"]
    assert all(tokenize(t) == rouge_tokens(t) for t in ALPACA)
    assert rouge_tokens(RUOZHIBA[0]) == [] and len(tokenize(RUOZHIBA[0])) == 22
    with pytest.raises(ValueError, match="unknown tokenizer 'words'"):
        tokenize("x", "words")


# -- scores ----------------------------------------------------------------------------------------
def test_reference_f1_is_rouge_score_float_formula_bit_for_bit():
    for a in range(1, 60):
        for b in range(1, 60):
            for lcs in range(0, min(a, b) + 1):
                expected = scoring.fmeasure(lcs / b, lcs / a) if lcs else 0.0
                assert reference_f1(lcs, a, b) == expected
    assert reference_f1(7, 7, 13) == 0.7000000000000001 and reference_f1(7, 10, 10) == 0.7


def test_rouge_l_equals_rouge_score_on_real_pairs():
    rng = random.Random(2)
    for _ in range(500):
        x, y = rng.choice(ALPACA), rng.choice(ALPACA)
        assert rouge_l(x, y, "rouge") == SCORER.score(x, y)["rougeL"].fmeasure


# -- decisions -------------------------------------------------------------------------------------
def test_boundary_at_exactly_0_7_is_decided_by_rouge_scores_float_formula():
    thirteen = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu"
    seven = "alpha beta gamma delta epsilon zeta eta"                        # LCS 7 of 7 and 13
    ten = "one two three four five six seven eight nine ten"
    ten_b = "one two three four five six seven x y z"                        # LCS 7 of 10 and 10
    assert SCORER.score(seven, thirteen)["rougeL"].fmeasure == 0.7000000000000001   # > 0.7: reject
    assert SCORER.score(ten_b, ten)["rougeL"].fmeasure == 0.7                       # = 0.7: keep
    pool = NoveltyPool()
    pool.add_many([thirteen, ten])
    rejected, kept = pool.check(seven), pool.check(ten_b)
    assert (rejected.keep, rejected.best_score, rejected.best_match) == (False, 0.7000000000000001, thirteen)
    assert (kept.keep, kept.best_score, kept.best_match) == (True, 0.7, ten)
    rng = random.Random(1)
    made = [(src, boundary_candidate(rouge_tokens(src), rng)) for src in ALPACA[:200]]
    scores = [SCORER.score(src, c)["rougeL"].fmeasure for src, c in made if c]
    assert all(abs(f - 0.7) < 1e-12 for f in scores)
    assert (sum(f > 0.7 for f in scores), sum(f <= 0.7 for f in scores)) == (146, 32)


def test_full_verdicts_equal_brute_force_rouge_score():
    texts = stream(11, ALPACA[:240], n_near=50, n_boundary=30)
    expected = brute_force(texts)
    verdicts = NoveltyPool(tokenizer="rouge").check_many(texts)
    assert [v.keep for v in verdicts] == [e[0] for e in expected]
    assert sum(not e[0] for e in expected) == 73
    for v, (keep, best, mean, top) in zip(verdicts, expected):
        assert v.best_score == best
        if keep:
            assert v.avg_similarity == pytest.approx(mean, abs=1e-12)
            assert [s for _, s in v.most_similar] == top


def test_decisions_equal_rouge_score_on_1500_alpaca_plus_edits_and_boundaries():
    texts = stream(7, ALPACA, n_near=600, n_boundary=300)
    ref = ReferencePool()
    expected = [ref.check_and_add(t) for t in texts]
    got = [v.keep for v in NoveltyPool(tokenizer="auto").check_many(texts)]
    assert len(texts) == 2400 and got == expected
    assert expected.count(False) == 837


def test_pruned_reference_equals_exhaustive_reference():
    texts = stream(3, ALPACA[:200], n_near=60, n_boundary=30)
    pruned, full = ReferencePool(), ReferencePool(exhaustive=True)
    assert [pruned.check_and_add(t) for t in texts] == [full.check_and_add(t) for t in texts]
    assert pruned.pairs_scored < full.pairs_scored / 100


def test_check_many_equals_one_at_a_time_including_duplicates_within_a_batch():
    texts = stream(5, ALPACA[:300], n_near=120)
    texts[10:10] = [texts[3]] * 3                                    # exact repeats inside one batch
    one = NoveltyPool(top_k=5)
    singles = [one.check_and_add(t, key=i) for i, t in enumerate(texts)]
    batched = NoveltyPool(top_k=5).check_many(texts, list(range(len(texts))))
    assert same(batched, singles)
    assert [v.best_match for v in singles[10:13]] == [3, 3, 3]


def test_small_chunks_batches_threads_and_int_codes_give_the_same_verdicts(monkeypatch):
    texts = stream(9, ALPACA[:200], n_near=80, n_boundary=20)
    expected = NoveltyPool(top_k=4).check_many(texts)
    monkeypatch.setattr(pool_module, "CHUNK", 7)
    monkeypatch.setattr(pool_module, "BATCH", 5)
    monkeypatch.setattr(pool_module, "PARALLEL_PAIRS", 1)
    assert same(NoveltyPool(top_k=4, workers=2).check_many(texts), expected)
    small = NoveltyPool(top_k=4, max_code_point=300)                 # runs out of code points
    assert same(small.check_many(texts), expected) and not small._as_text


def test_verdict_fields_on_empty_pool_and_texts_without_tokens():
    pool = NoveltyPool()
    first = pool.check_and_add("Name three primary colors.", key="r1")
    assert first == pool_module.Verdict(True, 0.0, [], 0.0, None, 4)
    blank = pool.check_and_add("?!", key="r2")
    assert (blank.keep, blank.tokens, blank.best_score) == (True, 0, 0.0)
    again = pool.check_and_add("Name the three primary colours of light!", key="r3")
    assert (again.keep, again.best_match, again.best_score) == (True, "r1", 6 / 11)
    assert again.avg_similarity == pytest.approx(6 / 11 / 2)
    close = pool.check_and_add("Name three primary colours.", key="r4")    # F1 6/8 > 0.7
    assert (close.keep, close.best_match, close.best_score, close.most_similar) == \
        (False, "r1", 0.75, [("r1", 0.75), ("r3", 8 / 11)])
    assert len(pool) == 3
    with pytest.raises(ValueError, match="2 keys for 1 texts"):
        pool.check_many(["x"], ["k1", "k2"])


# -- Chinese ---------------------------------------------------------------------------------------
def test_chinese_near_duplicates_are_rejected_where_rouge_score_waves_them_through():
    texts = stream(21, RUOZHIBA, n_near=40)
    assert all(ReferencePool().check_and_add(t) for t in texts)      # no tokens: nothing rejected
    pool = NoveltyPool()
    verdicts = pool.check_many(texts)
    rejected = [(t, v) for t, v in zip(texts, verdicts) if not v.keep]
    assert len(rejected) == 40
    assert all(t not in RUOZHIBA and v.best_match in RUOZHIBA for t, v in rejected)
    assert all(v.keep for t, v in zip(texts, verdicts) if t in RUOZHIBA)


def test_chinese_multiple_choice_questions_are_not_rejected_for_sharing_option_letters():
    assert sum(not v.keep for v in NoveltyPool(tokenizer="rouge").check_many(HUMAN_VALUE)) == 100
    assert all(v.keep for v in NoveltyPool().check_many(HUMAN_VALUE))
