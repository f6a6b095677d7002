"""Evol-Instruct: golden prompts for every operation, and the four elimination rules."""

import pytest

from pipeline.gen.evol import (CODE_METHODS, OPERATIONS, copied_prompt_words, only_stopwords, parse_equal,
                               sorry_and_short, unchanged)
from pipeline.ops.evol_instruct import build_equal_prompt, build_evolve_prompt
from tests.gen.golden import assert_golden

INSTRUCTION = "Give three tips for staying healthy.\r\n"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_evolve_prompts(operation):
    text, ref = build_evolve_prompt(operation, INSTRUCTION.strip())
    assert ref == ("evol_breadth@1" if operation == "breadth" else "evol_depth@1")
    end = "#Created Prompt#:\n" if operation == "breadth" else "#Rewritten Prompt#:\n"
    assert text.endswith(f"Given Prompt#:\nGive three tips for staying healthy.\n\n{end}")
    assert_golden(f"evol_{operation}", text)


@pytest.mark.parametrize("method", CODE_METHODS)
def test_code_prompts(method):
    text, ref = build_evolve_prompt(method, "Write a function that reverses a string.", code=True)
    assert ref == "evol_code@1"
    assert text.endswith(CODE_METHODS[method] + "\n\nWrite a function that reverses a string.\n")
    assert_golden(f"evol_code_{method}", text)


def test_equality_prompt():
    assert_golden("evol_equal", build_equal_prompt("Name a fruit.", "Name a tropical fruit that is red."))


def test_rule_copied_prompt_words():
    assert copied_prompt_words("#Rewritten Prompt#: Give four tips") == "rewritten prompt"
    assert copied_prompt_words("Rewrite the given prompt so that it asks for more") == "given prompt"
    assert copied_prompt_words("Give four tips for staying healthy in winter.") is None


def test_rule_sorry_and_short():
    assert sorry_and_short("I'm sorry, but I cannot answer that question.", "Tell me a secret.")
    assert not sorry_and_short("Sorry " + "word " * 80, "Tell me a secret.")
    assert not sorry_and_short("I'm sorry to hear that.", "Write a note that says sorry for being late.")
    assert not sorry_and_short("Here are four tips.", "Tell me a secret.")


def test_rule_only_stopwords():
    assert only_stopwords("...")
    assert only_stopwords("It is, and they are!")
    assert only_stopwords("")
    assert not only_stopwords("It is sunny.")


@pytest.mark.parametrize("text,verdict", [("Equal", True), ("Not Equal", False), ("not equal.", False),
                                          ("**Equal**", True), ("They are the same.", None), ("", None)])
def test_parse_equal(text, verdict):
    assert parse_equal(text) is verdict


def test_unchanged():
    assert unchanged("Give  three tips.\n", "give three tips.")
    assert not unchanged("Give four tips.", "Give three tips.")
