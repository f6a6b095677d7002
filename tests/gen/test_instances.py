"""Self-Instruct instance parsing (`Example N` / `Output:`, `Class label:`) and its filters."""

from pipeline.gen.instances import (filter_instances, parse_classification_instances,
                                    parse_generation_instances, parse_yes_no)


def fields(pieces):
    return [(p.fields["input"], p.fields["output"]) for p in pieces if p.ok]


GEN = """Example 1
Sentence: The cat sat on the mat.
Output: Le chat était assis sur le tapis.
Example 2
Sentence: I would like a cup of coffee, please.
Output: Je voudrais une tasse de café, s'il vous plaît.
Example 3
Input 3: Sentence: Where is the train station?
Output: Où est la gare ?"""


def test_generation_examples_with_field_names():
    assert fields(parse_generation_instances(GEN)) == [
        ("Sentence: The cat sat on the mat.", "Le chat était assis sur le tapis."),
        ("Sentence: I would like a cup of coffee, please.", "Je voudrais une tasse de café, s'il vous plaît."),
        ("Sentence: Where is the train station?", "Où est la gare ?"),
    ]


def test_generation_truncated_drops_the_last_example():
    pieces = parse_generation_instances(GEN[:-6], truncated=True)
    assert len(fields(pieces)) == 2
    assert pieces[-1].problem == "truncated"


def test_generation_output_only_task():
    text = "Output:\n- Go for a walk\n- Read a book\n- Call a friend"
    assert fields(parse_generation_instances(text)) == [("", "- Go for a walk\n- Read a book\n- Call a friend")]


def test_generation_without_markers_gives_nothing():
    assert parse_generation_instances("Just some prose with no structure.") == []


def test_output_is_cut_at_a_following_input_marker():
    text = "Example 1\nInput: 2 + 2\nOutput: 4\nInput: 3 + 3\nOutput: 6"
    assert fields(parse_generation_instances(text)) == [("2 + 2", "4")]


def test_chat_style_markdown_examples_and_preamble():
    text = ("Here are some examples:\n\n**Example 1:**\nWord: cat\nOutput: cats\n\n"
            "**Example 2:**\nWord: mouse\nOutput: mice\n")
    pieces = parse_generation_instances(text)
    assert fields(pieces) == [("Word: cat", "cats"), ("Word: mouse", "mice")]
    assert pieces[0].problem == "commentary"


def test_example_word_inside_an_output_is_not_a_marker():
    text = ("Example 1\nTopic: fruit\nOutput: Examples of fruit are apples and pears.\n"
            "Example 2\nTopic: tools\nOutput: A hammer.")
    assert fields(parse_generation_instances(text)) == [("Topic: fruit", "Examples of fruit are apples and pears."),
                                                        ("Topic: tools", "A hammer.")]


CLF = """Class label: Positive
Review: The battery lasts all day and the screen is bright.
Class label: Negative
Review: It stopped working after two days.
Class label: Neutral"""


def test_classification_blocks():
    assert fields(parse_classification_instances(CLF)) == [
        ("Review: The battery lasts all day and the screen is bright.", "Positive"),
        ("Review: It stopped working after two days.", "Negative"),
        ("", "Neutral"),
    ]


def test_classification_truncated_and_missing_marker():
    pieces = parse_classification_instances(CLF, truncated=True)
    assert [p.problem for p in pieces] == [None, None, "truncated"]
    assert parse_classification_instances("Positive\nNegative") == []


def test_invalid_instances_are_marked():
    text = ("Example 1\nInput: 4\nOutput: 4\nExample 2\nNumber: 5\nOutput:\nExample 3\n"
            "Question: What is 2+2?\nOutput: The answer is:\nExample 4\nNumber: 7\nOutput: odd")
    pieces = filter_instances(parse_generation_instances(text))
    assert [p.problem for p in pieces] == ["same_input_output", "empty_output", "ends_with_colon", None]


def test_same_input_with_different_outputs_drops_every_instance():
    text = ("Example 1\nWord: lead\nOutput: a metal\nExample 2\nWord: lead\nOutput: to guide\n"
            "Example 3\nWord: tin\nOutput: a metal")
    pieces = filter_instances(parse_generation_instances(text))
    assert [p.problem for p in pieces] == ["conflicting_outputs"] * 3


def test_exact_duplicates_keep_the_first():
    text = "Example 1\nWord: tin\nOutput: a metal\nExample 2\nWord: tin\nOutput: a metal"
    pieces = filter_instances(parse_generation_instances(text))
    assert [p.problem for p in pieces] == [None, "duplicate_instance"]


def test_yes_no():
    assert parse_yes_no(" Yes") is True
    assert parse_yes_no("yes.") is True
    assert parse_yes_no("No, it is not.") is False
    assert parse_yes_no("Maybe") is None
    assert parse_yes_no("") is None
    assert parse_yes_no(None) is None


def test_classification_answer_exact_as_the_reference():
    from collections import Counter
    from types import SimpleNamespace

    from pipeline.gen.self_instruct_instances import classify
    from pipeline.llm.types import Reply, Request
    from pipeline.record import Record

    rec = Record.new([{"role": "user", "content": "Is the number even?"}], {})
    ctx = SimpleNamespace(counters=Counter(), count=lambda k, n=1: ctx.counters.update({k: n}))

    def label(text: str, rule: str = "exact"):
        return classify(ctx, rec, Reply(Request.chat([{"role": "user", "content": "x"}]), text, "stop"), rule)

    # the reference: `strip() in ["Yes", "yes", "YES"]`, anything else is not classification
    assert [label(t) for t in (" Yes", "yes\n", "YES", "Yes.", "Yes, it is", "yES", "No")] == \
        [True, True, True, False, False, False, False]
    assert [label(t, "first_word") for t in ("Yes.", "Yes, it is", "No.")] == [True, True, False]
    assert ctx.counters["classification_unclear"] == 0
    assert label("Maybe") is False and ctx.counters["classification_unclear"] == 1
