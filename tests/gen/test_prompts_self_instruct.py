"""Golden tests: the exact Self-Instruct prompts, completion and chat forms."""

import pytest

from pipeline.gen.self_instruct_instances import build_clf_prompt, build_instance_prompt
from pipeline.ops.self_instruct import build_tasks_prompt, stop_sequences
from tests.gen.golden import assert_golden

EXAMPLES = ["Give me a quote from a famous person on this topic.",
            "Suggest a better and more professional rephrasing of the following sentence:",
            "Write  a\nhaiku about the sea.",
            "Is the following sentence true or false?"]


def test_tasks_prompt_completion_ends_with_the_next_number():
    text = build_tasks_prompt(EXAMPLES, classification=False, first=5, last=11, chat=False)
    assert text == ("Brainstorm a numbered list of diverse tasks:\n"
                    "1. Give me a quote from a famous person on this topic.\n"
                    "2. Suggest a better and more professional rephrasing of the following sentence\n"
                    "3. Write a haiku about the sea.\n"
                    "4. Is the following sentence true or false?\n"
                    "5.")
    assert_golden("self_instruct_tasks_completion", text)


def test_tasks_prompt_chat_and_classification():
    assert_golden("self_instruct_tasks_chat",
                  build_tasks_prompt(EXAMPLES, classification=False, first=5, last=11, chat=True))
    assert_golden("self_instruct_tasks_clf_completion",
                  build_tasks_prompt(EXAMPLES, classification=True, first=5, last=11, chat=False))


def test_stop_sequences():
    assert stop_sequences(16, True) == ["\n\n", "\n16", "16.", "16 ."]
    assert stop_sequences(16, False) == ["\n16", "16.", "16 ."]


@pytest.mark.parametrize("chat", [False, True])
def test_classification_check_prompt(chat):
    text = build_clf_prompt("  Tell me if the number is even or odd. ", chat)
    suffix = "\n\nAnswer with Yes or No only." if chat else ""
    assert text.endswith("Task: Tell me if the number is even or odd.\nIs it classification?" + suffix)
    # the reference's proportions: 31 demonstrations, 12 yes and 19 no
    assert text.count("Is it classification? Yes") == 12 and text.count("Is it classification? No") == 19
    assert_golden(f"self_instruct_is_clf_{'chat' if chat else 'completion'}", text)


@pytest.mark.parametrize("clf", [False, True])
@pytest.mark.parametrize("chat", [False, True])
def test_instance_prompts(clf, chat):
    text = build_instance_prompt("Tell me if the number is even or odd.", clf, chat)
    if not chat:
        assert text.endswith("\n\nTask: Tell me if the number is even or odd.\n")
    assert text.count("Task: ") - 1 == (16 if clf else 11)   # the reference's demonstrations
    assert_golden(f"self_instruct_instances_{'clf' if clf else 'gen'}_{'chat' if chat else 'completion'}", text)
