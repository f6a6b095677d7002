"""Orca system messages by task family, seeded per record, and the chain-of-thought wrapper."""

import pytest

from pipeline.gen.orca import POOLS, choose_system, cot_user_turn, system_messages, task_family
from pipeline.record import Record
from tests.gen.golden import assert_golden


def rec(text, **meta):
    return Record.new([{"role": "user", "content": text}, {"role": "assistant", "content": "x"}], meta)


def test_sixteen_messages_first_empty():
    msgs = system_messages()
    assert sorted(msgs) == list(range(1, 17))
    assert msgs[1] == ""
    assert all(msgs[i] for i in range(2, 17))
    assert msgs[15].startswith("Given the definition of a task and a sample input")
    assert "\nPart #: a key part of the definition.\nUsage: " in msgs[15]
    assert_golden("orca_system_messages", "\n---\n".join(msgs[i] for i in range(1, 17)))


@pytest.mark.parametrize("meta,family", [
    ({"task_source": "cot", "template_type": "cot"}, "cot"),
    ({"task_source": "CoT"}, "cot"),
    ({"task_source": "NIv2", "template_type": "zs_opt"}, "niv2"),
    ({"source": "sni", "task": "task1319_country_by_barcode_prefix"}, "niv2"),
    ({"source": "my_sni_copy", "task": "task137_detoxifying"}, "niv2"),
    ({"task_source": "t0"}, "t0"),
    ({"task_source": "Flan2021", "template_type": "zs_opt"}, "flan_mc"),
    ({"task_source": "Flan2021", "template_type": "fs_noopt"}, "flan"),
    ({"source": "alpaca"}, "other"),
    ({}, "other"),
])
def test_task_family(meta, family):
    assert task_family(meta) == family


def test_choice_is_seeded_per_record_and_within_the_pool():
    records = [rec(f"question {i}", task_source="cot") for i in range(40)]
    picks = [choose_system(r, seed=3)[0] for r in records]
    assert picks == [choose_system(r, seed=3)[0] for r in reversed(records)][::-1]
    assert set(picks) == {6, 11, 16}
    assert [choose_system(r, seed=4)[0] for r in records] != picks
    number, text = choose_system(records[0], seed=3)
    assert text == system_messages()[number]


# Orca's assignment of its 16 system messages to the FLAN-v2 sub-collections, written out here
# rather than read from the code, so a changed table fails
FAMILY_POOLS = {"cot": (6, 11, 16), "niv2": (1, 2, 5, 7, 9, 12, 13, 14, 15), "t0": (1, 2, 3, 5, 7),
                "flan_mc": (8, 10), "flan": (3, 4, 7), "other": (1, 2, 3, 4, 5, 7)}


def test_family_pools_are_pinned():
    assert POOLS == FAMILY_POOLS


def test_pool_override():
    r = rec("q", task_source="t0")
    assert choose_system(r, pools={"t0": (13,)}) == (13, system_messages()[13])


def test_cot_user_turn():
    text = cot_user_turn("How many legs do three spiders have?")
    assert text == ("How many legs do three spiders have?\n\n"
                    "Reason through this step by step, showing your work, and then state the final answer.")
    assert_golden("respond_cot", text)
