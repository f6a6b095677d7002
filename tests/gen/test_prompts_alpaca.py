"""Golden tests: the exact Alpaca generation prompt, completion and chat forms."""

from pipeline.gen.seeds import Seed
from pipeline.ops.alpaca_instruct import build_prompt
from tests.gen.golden import assert_golden

DEMOS = [Seed("a", "Explain why the sky is blue:", "", "Sunlight is scattered by the air, and blue light the most."),
         Seed("b", "Sort the   numbers from smallest to largest.", "7, 2, 9", "2, 7, 9"),
         Seed("c", "Name the capital of the country.", "Peru", "Lima")]


def test_completion_prompt_ends_with_the_next_instruction():
    text = build_prompt(DEMOS, 20, chat=False)
    assert text.endswith("###\n2. Instruction: Sort the numbers from smallest to largest.\n2. Input:\n7, 2, 9\n"
                         "2. Output:\n2, 7, 9\n###\n3. Instruction: Name the capital of the country.\n3. Input:\n"
                         "Peru\n3. Output:\nLima\n###\n4. Instruction:")
    assert "1. Instruction: Explain why the sky is blue\n1. Input:\n<noinput>\n" in text
    assert_golden("alpaca_instruct_completion", text)


def test_chat_prompt():
    text = build_prompt(DEMOS, 20, chat=True)
    assert text.endswith("3. Output:\nLima\n\nContinue the list with tasks 4 to 20 in exactly the same format, "
                         "starting each task with a line \"###\".\n")
    assert_golden("alpaca_instruct_chat", text)
