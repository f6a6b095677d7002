"""Instruction cleanup and the reference rule filters, one test per rule."""

import pytest

from pipeline.gen.checks import ALPACA_BANNED, clean_instruction, instruction_problem


def test_clean_modes():
    assert clean_instruction("  explain   NASA's\nrole ", "first") == "Explain NASA's role"
    assert clean_instruction("explain NASA's role", "python") == "Explain nasa's role"
    assert clean_instruction("explain NASA", "none") == "explain NASA"
    assert clean_instruction("   ", "first") == ""


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("Sort these numbers", "too_short"),
    ("word " * 151, "too_long"),
    ("Describe the image in a few words", "banned_keyword"),
    ("Explain how to go to the moon", "banned_keyword"),
    ("Write a program that adds two numbers", "write_a_program"),
    ("write a program that adds two numbers", "write_a_program"),
    ("\"Quote\" this sentence in French please", "starts_with_punctuation"),
    ("Élaborez une liste de cinq fruits rouges", "non_ascii_start"),
])
def test_each_rule(text, reason):
    assert instruction_problem(text.strip())[0] == reason


def test_kept_and_word_boundaries():
    assert instruction_problem("Sort these four numbers ascending") is None
    assert instruction_problem("Explain what a mapping between two sets is") is None  # 'map' is whole-word only
    assert instruction_problem("Describe a music festival you would like to attend") is None
    music = "Describe a music festival you would like to attend"
    assert instruction_problem(music, ALPACA_BANNED)[0] == "banned_keyword"
