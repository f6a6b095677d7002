"""Unnatural Instructions: example parsing, reformulations, exact prompts."""

import pytest

from pipeline.gen.seeds import Seed
from pipeline.gen.unnatural import clean_reformulation, has_placeholder, parse_example
from pipeline.ops.unnatural_instruct import (build_output_prompt, build_prompt, build_reformulation_prompt,
                                             user_turn)
from tests.gen.golden import assert_golden

REPLY = ("Instruction: In this task, you are given a recipe. Count the ingredients it needs.\n"
         "Input: Mix 2 cups of flour, 1 egg and a pinch of salt, then add milk until smooth.\n"
         "Constraints: The output should be a whole number.\n")


def test_completion_reply():
    piece = parse_example(REPLY)
    assert piece.ok
    assert piece.fields == {
        "instruction": "In this task, you are given a recipe. Count the ingredients it needs.",
        "input": "Mix 2 cups of flour, 1 egg and a pinch of salt, then add milk until smooth.",
        "constraints": "The output should be a whole number."}


def test_chat_reply_with_example_header_and_a_fifth_example():
    piece = parse_example("Example 4\n" + REPLY + "\nExample 5\nInstruction: more")
    assert piece.ok and piece.fields["constraints"] == "The output should be a whole number."


def test_multiline_input_is_kept():
    piece = parse_example("Instruction: Sort the list.\nInput: b\na\nc\nConstraints: None.")
    assert piece.fields["input"] == "b\na\nc"


@pytest.mark.parametrize("text", ["Instruction: Do it.\nConstraints: None.", "Just prose.",
                                  "Instruction:\nInput: x\nConstraints: None."])
def test_malformed(text):
    assert parse_example(text).problem == "malformed_example"


def test_truncated():
    assert parse_example(REPLY[:50], truncated=True).problem == "truncated"


def test_reformulations():
    assert clean_reformulation(' "How many ingredients are in {INPUT}?" ') == "How many ingredients are in {INPUT}?"
    assert has_placeholder("How many ingredients are in {INPUT}?")
    assert not has_placeholder("How many ingredients are in this recipe?")


DEMOS = [Seed("a", "Given a sentence, say whether it is a question.", "Is it raining?",
              "", None, "The output should be 'Yes' or 'No'."),
         Seed("b", "Find the   longest word in the sentence.", "The elephant walked slowly.", ""),
         Seed("c", "Write the number in words.", "42", "")]


@pytest.mark.parametrize("chat", [False, True])
def test_example_prompt(chat):
    text = build_prompt(DEMOS, chat)
    assert text.startswith("Example 1\nInstruction: Given a sentence, say whether it is a question.\n"
                           "Input: Is it raining?\nConstraints: The output should be 'Yes' or 'No'.\n\n"
                           "Example 2\nInstruction: Find the longest word in the sentence.\n")
    assert "Constraints: None.\n" in text
    assert text.endswith("\nExample 4\n") != chat
    assert_golden(f"unnatural_instruct_{'chat' if chat else 'completion'}", text)


@pytest.mark.parametrize("chat", [False, True])
def test_output_prompt(chat):
    fields = {"instruction": "Count the ingredients.", "input": "flour, egg, salt", "constraints": "A number."}
    text = build_output_prompt(fields, chat)
    assert text.startswith("Instruction: Count the ingredients.\nInput: flour, egg, salt\nConstraints: A number.\n")
    assert text.endswith("Output:") != chat
    assert_golden(f"unnatural_output_{'chat' if chat else 'completion'}", text)


def test_reformulation_prompt():
    text = build_reformulation_prompt({"instruction": "Count the ingredients.", "input": "flour, egg, salt"})
    assert text.endswith("Instruction: Count the ingredients.\nInput: flour, egg, salt\n")
    assert_golden("unnatural_reformulate", text)


def test_user_turn_appends_real_constraints_only():
    assert user_turn("Do it.", "x", "None.", True) == "Do it.\n\nx"
    assert user_turn("Do it.", "x", "Answer A or B.", True) == "Do it.\n\nx\n\nAnswer A or B."
    assert user_turn("Do it.", "", "Answer A or B.", False) == "Do it."
