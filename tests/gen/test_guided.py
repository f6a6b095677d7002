"""Guided generation: the attributes file, seeded combinations, the exact prompt."""

import random

import pytest

from pipeline.errors import ConfigError
from pipeline.gen.attributes import describe, load_attributes
from pipeline.gen.lists import parse_task_list
from pipeline.ops.guided_instruct import build_prompt
from tests.conftest import ROOT
from tests.gen.golden import assert_golden

EXAMPLE = ROOT / "recipes" / "attributes" / "guided_example.yaml"


def test_example_file_and_seeded_sampling():
    attrs = load_attributes(EXAMPLE)
    assert len(attrs.values["topics"]) == 5 and len(attrs.values["task_types"]) == 8
    first = [attrs.sample(random.Random(3)) for _ in range(2)]
    assert first[0] == first[1]
    combos = [attrs.sample(random.Random(i)) for i in range(50)]
    for combo in combos:
        assert combo["subtopic"] in attrs.subtopics[combo["topic"]]
        assert set(combo) == {"topic", "subtopic", "task_type", "style", "audience", "length", "language"}
    assert len({c["topic"] for c in combos}) == 5


def test_flat_lists_and_missing_keys(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("topics: [cats, dogs]\nsubtopics: [food, sleep]\nstyles: [terse]\n")
    combo = load_attributes(path).sample(random.Random(0))
    assert set(combo) == {"topic", "subtopic", "style"}
    assert [label for label, _ in describe(combo)] == ["Topic", "Subtopic", "Style"]


@pytest.mark.parametrize("text,message", [
    ("topics: [a]\ncolours: [red]\n", "a.yaml:2: colours: unknown attribute"),
    ("topics: [a]\nstyles: []\n", "a.yaml:2: styles: expected a non-empty list of texts"),
    ("topics:\n  A: [x]\nsubtopics: [y]\n", "a.yaml:3: subtopics: give subtopics either"),
    ("topics: [a\n", "a.yaml:2: invalid YAML"),
    ("- a\n- b\n", "expected a mapping of attributes"),
])
def test_bad_files_name_file_line_and_key(tmp_path, text, message):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_attributes(path)


COMBO = {"topic": "Science", "subtopic": "black holes", "task_type": "open question", "style": "concise",
         "audience": "a high-school student", "length": "one sentence", "language": "English"}


@pytest.mark.parametrize("chat", [False, True])
def test_prompt(chat):
    text = build_prompt(COMBO, 5, chat)
    assert "- Topic: Science\n- Subtopic: black holes\n- Task type: open question\n" in text
    assert text.endswith("\n\n1.") != chat
    assert_golden(f"guided_instruct_{'chat' if chat else 'completion'}", text)


def test_items_with_paragraphs_stay_whole():
    reply = ("1. Summarise the passage below in one sentence.\n\nThe printing press spread quickly across Europe.\n\n"
             "2. Explain why the sky looks blue to a child.")
    pieces = parse_task_list(reply, 1, leading_is_item=False, blank_ends_item=False)
    assert [p.fields["instruction"] for p in pieces] == [
        "Summarise the passage below in one sentence.\n\nThe printing press spread quickly across Europe.",
        "Explain why the sky looks blue to a child."]


def test_phoenix_user_roles_lead_the_brief(tmp_path):
    # Phoenix's user-centred instructions: a user role, then what they ask and the input they give
    path = tmp_path / "roles.yaml"
    path.write_text("roles: [a nurse on night shifts, a first-year law student]\ntask_types: [open question]\n")
    combos = [load_attributes(path).sample(random.Random(i)) for i in range(20)]
    assert {c["role"] for c in combos} == {"a nurse on night shifts", "a first-year law student"}
    text = build_prompt(combos[0], 3, True)
    assert f"- The user (write as this person would ask, with the input they would give): {combos[0]['role']}\n" \
           "- Task type: open question\n" in text
