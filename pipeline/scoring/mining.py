"""Instruction Mining's indicators and its linear rule (Cao et al. 2023).

Indicators of one instruction-response pair: token lengths, MTLD lexical diversity, mean
distance to the k nearest neighbours in embedding space, a reward model's score, perplexity,
and UniEval's naturalness / coherence / understandability (P(yes) to a yes/no question). The
rule predicts the evaluation loss of a model fine-tuned on a subset:
log L = b0 + sum(b_i * mean indicator_i). Being linear, a subset's predicted loss is the mean of
its records' predictions, so ranking records by their own prediction is the rule applied exactly.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

import numpy as np

from pipeline.prompts import load_prompt
from pipeline.scoring.layout import boundary_for
from pipeline.scoring.parse import Failure

# the paper's final rule (log loss; Rew: reward, Und/Nat/Coh: UniEval scores)
PAPER_RULE = {"intercept": 0.0274, "reward": -0.0078, "understandability": 0.4421,
              "naturalness": -0.3212, "coherence": -0.1520}
INDICATORS = ("len_in", "len_out", "mtld", "knn", "reward", "ppl", "naturalness", "coherence",
              "understandability")
UNIEVAL = ("naturalness", "coherence", "understandability")
MINING_PROMPTS = ("mining_unieval", "mining_reask")
QUESTIONS = {"naturalness": "Is this a natural response in the dialogue?",
             "coherence": "Is this a coherent response given the dialogue history?",
             "understandability": "Is this an understandable response in the dialogue?"}
_WORD = re.compile(r"\w+(?:'\w+)?")
MTLD_TTR = 0.72


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _factors(tokens: list[str], threshold: float) -> float:
    count, types, n = 0.0, set(), 0
    for tok in tokens:
        n += 1
        types.add(tok)
        if len(types) / n <= threshold:
            count, types, n = count + 1, set(), 0
    if n:  # the partial factor left at the end, prorated as in McCarthy & Jarvis
        count += (1 - len(types) / n) / (1 - threshold)
    return count


def mtld(text: str, threshold: float = MTLD_TTR) -> float:
    """Measure of Textual Lexical Diversity: mean length of word runs keeping TTR above 0.72,
    forward and backward averaged. 0 for an empty text; a text that never drops below is its length."""
    toks = words(text)
    if not toks:
        return 0.0
    values = []
    for seq in (toks, toks[::-1]):
        f = _factors(seq, threshold)
        values.append(len(seq) / f if f > 0 else float(len(seq)))
    return float(sum(values) / 2)


def knn_distance(vecs: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """Mean Euclidean distance of each vector to its k nearest others (k capped at n-1); a block of
    rows against all at a time, in float32, so memory stays at block x n."""
    vecs = np.asarray(vecs, dtype=np.float32)
    n = len(vecs)
    k = min(k, n - 1)
    out = np.zeros(n)
    if k <= 0:
        return out
    sq = (vecs * vecs).sum(1)
    for start in range(0, n, block):
        d2 = sq[start:start + block, None] + sq[None, :] - 2 * vecs[start:start + block] @ vecs.T
        rows = np.arange(min(block, n - start))
        d2[rows, rows + start] = np.inf
        near = np.partition(np.maximum(d2, 0), k - 1, axis=1)[:, :k]
        out[start:start + block] = np.sqrt(near).mean(1)
    return out


def unieval_messages(dimension: str, response: str, history: str) -> list[dict]:
    """UniEval's boolean question for one dimension; coherence also shows the dialogue history."""
    shown = history if dimension == "coherence" else ""
    user = load_prompt("mining_unieval").render(boundary=boundary_for(response, shown),
                                                question=QUESTIONS[dimension], response=response,
                                                history=shown)
    return [{"role": "user", "content": user}]


def p_yes(raw: Any, text: str | None) -> float | Failure:
    """P(yes) / (P(yes) + P(no)) at the first answer token when logprobs came back (UniEval's
    score), else 1.0 or 0.0 from the written word."""
    try:
        first = next(t for t in raw["choices"][0]["logprobs"]["content"] if str(t.get("token", "")).strip())
    except (KeyError, IndexError, TypeError, StopIteration):
        first = None
    if first is not None:
        mass = {"yes": 0.0, "no": 0.0}
        for alt in first.get("top_logprobs") or [first]:
            word = str(alt.get("token", "")).strip().strip(".").lower()
            lp = alt.get("logprob")
            if word in mass and isinstance(lp, (int, float)) and math.isfinite(lp):
                mass[word] += math.exp(lp)
        if mass["yes"] + mass["no"] > 0:
            return mass["yes"] / (mass["yes"] + mass["no"])
    word = (text or "").strip().split(maxsplit=1)[0].strip(".,!*").lower() if (text or "").strip() else ""
    if word in ("yes", "no"):
        return 1.0 if word == "yes" else 0.0
    return Failure("unparsable", "the reply does not start with Yes or No")


def predict(rule: dict[str, float], values: dict[str, float]) -> float:
    """Predicted log evaluation loss of the rule for these indicator values."""
    return rule.get("intercept", 0.0) + sum(b * values[name] for name, b in rule.items() if name != "intercept")


def fit_rule(rows: Iterable[dict], names: list[str]) -> tuple[dict[str, float], float]:
    """Least squares of log(loss) on the named indicators (rows: {"indicators": {...}, "loss": L},
    one per fine-tuned subset); returns the rule and its R^2."""
    rows = list(rows)
    if len(rows) <= len(names):
        raise ValueError(f"{len(rows)} labelled subsets cannot fit {len(names)} indicators and an intercept")
    x = np.array([[1.0] + [float(r["indicators"][n]) for n in names] for r in rows])
    y = np.log(np.array([float(r["loss"]) for r in rows]))
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1 - (resid ** 2).sum() / total) if total > 0 else 1.0
    return {"intercept": float(beta[0]), **{n: float(b) for n, b in zip(names, beta[1:])}}, r2
