"""Judging a reply's candidates: rules, echoes, novelty within one batch, the target."""

from types import SimpleNamespace

from pipeline.gen.candidates import judge
from pipeline.gen.checks import SELF_INSTRUCT_BANNED
from pipeline.gen.novelty import seeded_pool
from pipeline.record import Record, Rejected

P = SimpleNamespace(min_words=3, max_words=150, target=3, threshold=0.7)
SEED = "Give me a quote from a famous person on this topic."


def cands(*texts):
    return [(Record.new([{"role": "user", "content": t}], {"instruction": t}), t) for t in texts]


def reasons(items):
    return [it.reason if isinstance(it, Rejected) else "kept" for it in items]


def test_rules_echo_novelty_and_duplicates_within_the_batch():
    pool = seeded_pool(0.7, [SEED])
    items = judge(cands("Explain how tides on this planet are caused by the moon.",
                        "Explain how tides on this planet are caused by the moon.",
                        "Give me a quote from a famous person on this topic!",
                        "Draw a map of your town.",
                        "Name three rivers in Africa please.",
                        "Write a program that sorts a list.",
                        "sort these"), P, pool, 10, SELF_INSTRUCT_BANNED,
                  echoes={"name three rivers in africa please."})
    assert reasons(items) == ["kept", "too_similar", "too_similar", "banned_keyword", "echoed_example",
                              "write_a_program", "too_short"]
    assert 0 < items[0].meta["most_similar"][SEED] < 0.7 and 0 < items[0].meta["avg_similarity"] < 0.7
    assert items[1].extra["most_similar"] == "Explain how tides on this planet are caused by the moon."
    assert len(pool) == 2


def test_target_cuts_the_batch_and_an_empty_room_skips_novelty():
    pool = seeded_pool(0.7, [SEED])
    texts = ["Describe the history of Rome briefly.", "List four uses of baking soda at home.",
             "Why do cats purr when they are happy?", "Translate good morning into Japanese."]
    assert reasons(judge(cands(*texts), P, pool, 2, ())) == ["kept", "kept", "target_reached", "target_reached"]
    size = len(pool)
    assert reasons(judge(cands("Plan a picnic for six people."), P, pool, 0, ())) == ["target_reached"]
    assert len(pool) == size


def test_without_a_pool_only_rules_and_target_apply():
    items = judge(cands("Plan a picnic for six people.", "Plan a picnic for six people."), P, None, 5, ())
    assert reasons(items) == ["kept", "kept"] and "most_similar" not in items[0].meta


def test_a_rejection_passes_through():
    rec = Record.new([{"role": "user", "content": "x y z w"}], {})
    items = judge([(Rejected("empty_output", record=rec), "x y z w")], P, seeded_pool(0.7, []), 5, ())
    assert reasons(items) == ["empty_output"]
