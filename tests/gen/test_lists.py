"""Parsers of generated task lists: numbered lists and Alpaca blocks, whole, cut off and malformed."""

from pipeline.gen.lists import parse_alpaca_tasks, parse_task_list


def texts(pieces):
    return [p.fields.get("instruction") for p in pieces if p.ok]


def problems(pieces):
    return [(p.problem, p.raw) for p in pieces if not p.ok]


# A davinci-style continuation of a prompt ending with "9." (the reference format).
COMPLETION = (" Given a list of numbers, find the median value.\n"
              "10. Write a short story about a robot who learns to paint.\n"
              "11 . Classify the following animals into mammals, birds or reptiles.\n"
              "12. What is the difference between weather and climate?\n"
              "13. Suggest some ways to save water at home.")


def test_completion_continuation_starts_with_item_9():
    pieces = parse_task_list(COMPLETION, 9, leading_is_item=True)
    assert [p.number for p in pieces] == [9, 10, 11, 12, 13]
    assert texts(pieces) == [
        "Given a list of numbers, find the median value.",
        "Write a short story about a robot who learns to paint.",
        "Classify the following animals into mammals, birds or reptiles.",
        "What is the difference between weather and climate?",
        "Suggest some ways to save water at home.",
    ]


def test_truncated_reply_drops_only_the_last_item():
    pieces = parse_task_list(COMPLETION[:-10], 9, leading_is_item=True, truncated=True)
    assert len(texts(pieces)) == 4
    assert problems(pieces) == [("truncated", "Suggest some ways to save wate")]


def test_chat_reply_with_preamble_and_closing_commentary():
    text = ("Sure! Here are some more tasks:\n\n"
            "9. Explain the rules of chess to a beginner.\n"
            "10. Rewrite the sentence in the passive voice.\n\n"
            "I hope these tasks are helpful!")
    pieces = parse_task_list(text, 9, leading_is_item=False)
    assert texts(pieces) == ["Explain the rules of chess to a beginner.",
                             "Rewrite the sentence in the passive voice."]
    assert problems(pieces) == [("commentary", "Sure! Here are some more tasks:"),
                                ("commentary", "I hope these tasks are helpful!")]


def test_task_n_colon_format_and_bold_numbers():
    text = ("Task 9: Name three countries that border Brazil.\n"
            "Task 10: Convert the recipe to metric units.\n"
            "**11.** Tell me a joke about programmers.")
    pieces = parse_task_list(text, 9, leading_is_item=False)
    assert [p.number for p in pieces] == [9, 10, 11]
    assert texts(pieces)[2] == "Tell me a joke about programmers."


def test_numbering_gaps_and_echoed_examples_are_items_with_their_numbers():
    text = "1. Come up with a slogan for a bakery.\n2. Sort these words.\n4. Plan a trip to Rome for three days."
    pieces = parse_task_list(text, 9, leading_is_item=False)
    assert [p.number for p in pieces] == [1, 2, 4]
    assert len(texts(pieces)) == 3


def test_decimal_numbers_and_multiline_items_do_not_split():
    text = "9. Compute 3.5 times 4\nand explain each step.\n10. List 3 fruits."
    pieces = parse_task_list(text, 9, leading_is_item=False)
    assert texts(pieces) == ["Compute 3.5 times 4\nand explain each step.", "List 3 fruits."]


def test_reply_without_any_number_in_chat_is_commentary():
    pieces = parse_task_list("I cannot think of more tasks.", 9, leading_is_item=False)
    assert problems(pieces) == [("commentary", "I cannot think of more tasks.")]


# A text-davinci-003 continuation of a prompt ending with "###\n4. Instruction:".
ALPACA = (" Give three examples of renewable energy sources.\n"
          "4. Input:\n<noinput>\n"
          "4. Output:\nSolar power, wind power and hydroelectric power.\n"
          "###\n"
          "5. Instruction: Rewrite the sentence so that it uses simpler words.\n"
          "5. Input:\nThe committee reached a unanimous consensus after protracted deliberation.\n"
          "5. Output:\nAfter a long discussion, everyone on the committee agreed.\n"
          "###\n"
          "6. Instruction: Tell me whether the number is prime.\n"
          "6. Input:\n91\n"
          "6. Output:\nNo, 91 is 7 times 13.\n"
          "###\n"
          "7. Instruction: Describe the taste of a lemon.\n"
          "7. Input:\n<noinput>\n"
          "7. Output:\nA lemon tastes very so")


def test_alpaca_blocks_with_noinput():
    pieces = parse_alpaca_tasks(ALPACA, 4, leading_is_item=True)
    good = [p.fields for p in pieces if p.ok]
    assert good[0] == {"instruction": "Give three examples of renewable energy sources.", "input": "",
                       "output": "Solar power, wind power and hydroelectric power."}
    assert good[1]["input"] == "The committee reached a unanimous consensus after protracted deliberation."
    assert [p.number for p in pieces] == [4, 5, 6, 7]
    assert len(good) == 4


def test_alpaca_truncated_drops_last_block_only():
    pieces = parse_alpaca_tasks(ALPACA, 4, leading_is_item=True, truncated=True)
    assert [p.problem for p in pieces] == [None, None, None, "truncated"]


def test_alpaca_malformed_block_is_dropped_alone():
    text = ("###\n4. Instruction: Name a famous painter.\n4. Output:\nFrida Kahlo\n"
            "###\n5. Instruction: Add the two numbers.\n5. Input:\n3 and 4\n5. Output:\n7\n"
            "###\n6. Instruction: Spell the word backwards.\n7. Input:\nlevel\n6. Output:\nlevel\n")
    pieces = parse_alpaca_tasks(text, 4, leading_is_item=False)
    assert [p.problem for p in pieces] == ["malformed_item", None, "malformed_item"]
    assert pieces[1].fields == {"instruction": "Add the two numbers.", "input": "3 and 4", "output": "7"}
    assert "4. Instruction, 4. Output" in pieces[0].detail


def test_alpaca_chat_reply_with_preamble():
    text = ("Here are the new tasks.\n###\n4. Instruction: Suggest a name for a cat.\n4. Input:\n"
            "<noinput>\n4. Output:\nWhiskers")
    pieces = parse_alpaca_tasks(text, 4, leading_is_item=False)
    assert [p.problem for p in pieces] == ["commentary", None]
    assert pieces[1].fields["output"] == "Whiskers"


def test_alpaca_chat_reply_starting_with_the_first_block():
    text = "4. Instruction: Suggest a name for a dog.\n4. Input:\n<noinput>\n4. Output:\nRex"
    for leading in (True, False):
        pieces = parse_alpaca_tasks(text, 4, leading_is_item=leading)
        assert [p.fields["output"] for p in pieces] == ["Rex"]
