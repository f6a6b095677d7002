"""G5 36-39: strict parsing of model output (JSON, schema, scores, numbered lists) and re-asks."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
from pydantic import BaseModel

from pipeline.llm.client import StageClient
from pipeline.llm.parsing import OutputError, numbered_items, parse_json, parse_model, parse_score
from pipeline.llm.reask import ask_with_reasks
from pipeline.llm.replies import problem
from pipeline.llm.settings import LLMSettings
from pipeline.llm.types import Request
from tests.fake_openai import ok


class Pair(BaseModel):
    instruction: str
    output: str


GOOD = '{"instruction": "Name a prime.", "output": "7"}'


@pytest.mark.parametrize("text, reason", [
    ("```json\n" + GOOD + "\n```", None),
    ("```\n" + GOOD + "\n```", None),
    ("Sure! Here it is: " + GOOD, "bad_json"),
    (GOOD + " Hope this helps.", "bad_json"),
    ("{'instruction': 'Name a prime.', 'output': '7'}", "bad_json"),
    ('{"instruction": "Name a prime.", "output": "7",}', "bad_json"),
    (GOOD + GOOD, "bad_json"),
    ('{"instruction": "x", "instruction": "y", "output": "7"}', "bad_json"),
    ('{"instruction": "Name a prime.", "output": 7}', "bad_schema"),
    ('{"instruction": "Name a prime."}', "bad_schema"),
    ("", "empty"),
])
def test_json_is_parsed_strictly_with_only_a_fence_strip(text, reason):
    if reason is None:
        assert parse_model(text, Pair) == Pair(instruction="Name a prime.", output="7")
        return
    with pytest.raises(OutputError) as info:
        parse_model(text, Pair)
    assert info.value.reason == reason


def test_incomplete_json_is_never_accepted():
    with pytest.raises(OutputError, match="incomplete"):
        parse_json(GOOD, complete=False)


@pytest.mark.parametrize("text, reason", [('{"score": "9/10"}', "bad_schema"), ('{"score": 11}', "out_of_range"),
                                          ('{"rating": 5}', "bad_schema"), ('{"score": 7.5}', "bad_schema"),
                                          ('{"score": true}', "bad_schema"), ("9", "bad_schema")])
def test_judge_scores_fail_closed(text, reason):
    with pytest.raises(OutputError) as info:
        parse_score(text, 1, 10)
    assert info.value.reason == reason
    assert parse_score('```json\n{"score": 10}\n```', 1, 10) == 10


def test_numbered_lists_keep_good_items_and_name_each_dropped_one():
    text = ("Here are the tasks:\n1. Write a haiku about rain.\n2. List three primes.\n4. Skipped number.\n"
            "5. Write a haiku about rain.\n6. Give an example sentence.\n7. Translate 'cat' into")
    items, problems = numbered_items(text, complete=False, exclude=("Give an example sentence.",))
    assert items == ["Write a haiku about rain.", "List three primes."]
    assert [p.reason for p in problems] == ["numbering", "duplicate_item", "echoed_seed", "truncated"]
    full, none = numbered_items("1. a\n2. b", complete=True)
    assert full == ["a", "b"] and none == []


def test_unparsable_replies_are_reasked_then_given_up_with_the_raw_text(tmp_path, fake_openai):
    fake_openai.reply_fn = ok("Sure! {\"instruction\": \"x\"")
    settings = LLMSettings(model="fake-model", base_url=fake_openai.base_url, max_reasks=2)
    llm = StageClient("t", settings, fake_openai.base_url, tmp_path, Counter())

    def check(reply):
        why = problem(reply)
        if why:
            return why
        try:
            parse_model(reply.text, Pair, complete=reply.complete)
        except OutputError as e:
            return e.reason
        return None

    async def task(ask):
        return await ask_with_reasks(ask, Request.chat([{"role": "user", "content": "make a pair"}]), 2, check)

    [(reply, why)] = list(llm.run_tasks([partial(task)]))
    llm.close()
    assert why == "bad_json" and reply.text == "Sure! {\"instruction\": \"x\""
    assert fake_openai.completions == 3 and len(fake_openai.hits) == 3
