"""Self-Instruct instance parsing on replies as a small real model writes them (SmolLM2-135M under
`transformers serve`): numbered blocks, an `Output:` line echoing the label, and copies of the
prompt's own demonstrations."""

from pipeline.gen.instances import (demonstrations, drop_demonstrations, filter_instances,
                                    parse_classification_instances)

# The shape met on the real run: each block repeats its label on an `Output:` line and the next
# block's list number ends the previous one; the last block copies the prompt's neutral review.
CLF_REPLY = """Class label: Positive
Tweet: I just got my dream job and I can't stop smiling!
Output: Positive
3. Class label: Negative
Tweet: My flight got cancelled again, worst airline ever.
Output: Negative
4. Class label: Neutral
Review: The menu is mostly pasta, and they close at nine on weekdays.
Output: Neutral
5."""


def ok_fields(pieces):
    return [(p.fields["input"], p.fields["output"]) for p in pieces if p.ok]


def test_output_echo_and_next_item_number_stay_out_of_the_input():
    pieces = parse_classification_instances(CLF_REPLY)
    assert ok_fields(pieces)[:2] == [
        ("Tweet: I just got my dream job and I can't stop smiling!", "Positive"),
        ("Tweet: My flight got cancelled again, worst airline ever.", "Negative"),
    ]
    assert all("Output:" not in p.fields["input"] and not p.fields["input"].endswith(".\n4.") for p in pieces)


def test_an_output_line_naming_another_label_rejects_the_instance():
    pieces = parse_classification_instances("Class label: Yes\nEmail: See you at noon.\nOutput: No\n")
    assert [p.problem for p in pieces] == ["label_mismatch"]


def test_instances_copying_the_prompts_demonstrations_are_rejected():
    pieces = drop_demonstrations(filter_instances(parse_classification_instances(CLF_REPLY)),
                                 demonstrations("self_instruct_instances_clf"))
    assert len(ok_fields(pieces)) == 2
    assert pieces[2].problem == "copied_demonstration"


def test_demonstrations_are_read_from_the_prompt_file():
    clf_inputs, _ = demonstrations("self_instruct_instances_clf")
    gen_inputs, gen_outputs = demonstrations("self_instruct_instances_gen")
    assert "the menu is mostly pasta, and they close at nine on weekdays." in clf_inputs
    assert "word: banana" not in gen_inputs and "5 miles is about 8.05 kilometres." in gen_outputs
    assert "17" not in gen_outputs  # short outputs may recur honestly in a new task


def test_a_number_label_is_not_taken_for_a_list_number():
    pieces = parse_classification_instances("Class label: 4.\nClass label: 3\nNumber: 9\n2.")
    assert [(p.fields["input"], p.fields["output"]) for p in pieces] == [("", "4."), ("Number: 9", "3")]


# Met on the real run (trimmed): numbered blocks, a demonstration copied under another field name.
CLF_REPLY_NUMBERED = """1. Class label: Positive
Sentence: The noodles were fresh, the staff remembered our names, and we will be back next week.
Input: The sentence is a positive sentence.
Output: Positive
2. Class label: Negative
Sentence: The sentence is a negative sentence.
Output: Negative
3. Class label: Neutral
Sentence: The sentence is a neutral sentence.
Output: Neutral
4. Class label: Positive
Sentence: The sentence is a positive sentence.
Output: Positive
5. Class label: Negative
Sentence: """


def test_a_demonstration_copied_under_another_field_name_is_still_a_copy():
    pieces = drop_demonstrations(filter_instances(parse_classification_instances(CLF_REPLY_NUMBERED, truncated=True)),
                                 demonstrations("self_instruct_instances_clf"))
    assert [p.problem for p in pieces] == ["copied_demonstration", None, None, None, "truncated"]
    assert ok_fields(pieces) == [("Sentence: The sentence is a negative sentence.", "Negative"),
                                 ("Sentence: The sentence is a neutral sentence.", "Neutral"),
                                 ("Sentence: The sentence is a positive sentence.", "Positive")]


# Met on the real run (the reply as sent, cut after six blocks): every line numbered, the input
# under a numbered `Input:` label, the label echoed on a numbered `Output:` line.
CLF_REPLY_ALL_NUMBERED = ('1. Class label: Noun\n2. Input: "I am not a doctor"\n3. Output: Noun\n'
                          '4. Class label: Adjective\n5. Class label: Adjective\n6. Class label: Adjective')


def test_numbered_input_and_output_lines_are_read_as_labels():
    pieces = filter_instances(parse_classification_instances(CLF_REPLY_ALL_NUMBERED, truncated=True))
    assert ok_fields(pieces) == [('"I am not a doctor"', "Noun"), ("", "Adjective")]
    assert [p.problem for p in pieces] == [None, None, "duplicate_instance", "truncated"]
