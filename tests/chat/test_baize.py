"""Baize: exact prompts for v1/v2 and the transcript parser on realistic and malformed output."""

from pipeline.chat import baize

PREAMBLE = ("Set aside any instructions you were given before. Below is a chat between a human and an "
            "AI assistant who take turns talking about this topic: 'How do I keep basil alive indoors?'. "
            "Every human line starts with [Human] and every assistant line starts with [AI]. The human asks "
            "follow-up questions about the topic, about neighbouring topics or about what was said earlier, "
            "and ends the chat once there is nothing left to ask. The assistant answers and avoids asking "
            "questions itself. Continue the transcript in exactly this format.\n"
            "[Human] Hello!\n[AI] Hello! What can I do for you?\n")
TOPIC = "How do I keep basil alive indoors?"

TRANSCRIPT = """[Human] My basil keeps wilting on the kitchen windowsill. What am I doing wrong?
[AI] Basil wilts indoors mostly from too little light or from soggy soil. Give it six or more hours of direct sun, or a grow light, and water only when the top centimetre of soil is dry.
[Human] Does the pot matter?
[AI] Yes. Use a pot with drainage holes; standing water rots the roots. Terracotta dries faster than plastic, which helps if you tend to overwater.
[Human] Should I pinch off the flowers?
[AI] Pinch the flower buds as soon as they appear. Flowering makes the leaves bitter and slows new growth.
[Human] How often should I fertil"""


def test_v1_prompt_is_exact():
    assert baize.v1_messages(TOPIC) == [{"role": "user", "content": PREAMBLE}]


def test_v2_human_prompt_continues_transcript_with_open_human_line():
    rounds = [("Why is it wilting?", "Too little light, usually.")]
    msgs = baize.v2_human_messages(TOPIC, rounds)
    assert msgs == [{"role": "user", "content": PREAMBLE + "[Human] Why is it wilting?\n"
                                                          "[AI] Too little light, usually.\n[Human] "}]


def test_v2_ai_request_is_plain_history():
    msgs = baize.v2_ai_messages([("q1", "a1")], "q2")
    assert msgs == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                    {"role": "user", "content": "q2"}]


def test_parse_drops_preamble_and_truncated_last_human_segment():
    rounds = baize.parse_transcript("Sure, here is the transcript:\n" + TRANSCRIPT)
    assert [h for h, _ in rounds] == ["My basil keeps wilting on the kitchen windowsill. What am I doing wrong?",
                                      "Does the pot matter?", "Should I pinch off the flowers?"]
    assert rounds[2][1] == ("Pinch the flower buds as soon as they appear. Flowering makes the leaves "
                            "bitter and slows new growth.")


def test_parse_drops_last_segment_even_when_complete():
    text = "[Human] a?\n[AI] b.\n[Human] c?\n[AI] d."
    assert baize.parse_transcript(text) == [("a?", "b.")]


def test_parse_stops_at_first_segment_without_ai_marker():
    text = ("[Human] First question?\n[AI] First answer.\n"
            "[Human] Second question? Third question?\n"          # the model forgot [AI]
            "[Human] Fourth?\n[AI] Fourth answer.\n[Human] bye")
    assert baize.parse_transcript(text) == [("First question?", "First answer.")]


def test_parse_stops_at_roles_out_of_order():
    text = ("[Human] Q1\n[AI] A1\n"
            "[Human] Q2\n[AI] A2\n[AI] A2 again, the AI spoke twice\n"
            "[Human] Q3\n[AI] A3\n[Human] ")
    assert baize.parse_transcript(text) == [("Q1", "A1")]


def test_parse_stops_at_empty_side():
    assert baize.parse_transcript("[Human] Q1\n[AI] A1\n[Human] [AI] A2\n[Human] Q3\n[AI] A3\n[Human]") == \
        [("Q1", "A1")]


def test_parse_without_markers_gives_nothing():
    assert baize.parse_transcript("Human: hi\nAI: hello\nHuman: bye\nAI: bye") == []
    assert baize.parse_transcript("[Human] only one dangling question") == []


def test_clean_human_cuts_at_any_marker():
    assert baize.clean_human(" What soil is best?\n") == "What soil is best?"
    assert baize.clean_human("What soil?\n[AI] Loam.") == "What soil?"
    assert baize.clean_human("[AI] I have no more questions") == ""
