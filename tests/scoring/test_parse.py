"""Parsers of scorer replies (reliability #37-39): numbers on the first line, logprobs, strict JSON."""

import math

import pytest

from pipeline.scoring.parse import Failure, digit_expectation, parse_json, parse_score, parse_tags


@pytest.mark.parametrize("text,score,why", [
    ("4.5\nClear and correct.", 4.5, "Clear and correct."),
    ("5", 5.0, ""),
    ("0\n\nWrong answer.\nSecond line.", 0.0, "Wrong answer.\nSecond line."),
    ("  **4**  \nGood.", 4.0, "Good."),
    ("Score: 3\nMeh.", 3.0, "Meh."),
    ("score = 2.5/5\nok", 2.5, "ok"),
    ("4.\nfine", 4.0, "fine"),
    ("\n\n3\nleading blank lines", 3.0, "leading blank lines"),
])
def test_score_first_line(text, score, why):
    assert parse_score(text, 0, 5) == (score, why)


@pytest.mark.parametrize("text,code", [
    ("9/10\nvery good", "unparsable"),
    ("11\ntoo high", "out_of_range"),
    ("-1", "out_of_range"),
    ("5.5", "out_of_range"),
    ("", "empty"),
    ("   \n  ", "empty"),
    (None, "empty"),
    ("The answer is good.\n4", "unparsable"),
    ('{"score": 10}', "unparsable"),
    ("4 - accurate", "unparsable"),
    ("four", "unparsable"),
    ("nan", "unparsable"),
    ("4/6", "unparsable"),
])
def test_score_failures_fail_closed(text, code):
    got = parse_score(text, 0, 5)
    assert isinstance(got, Failure) and got.code == code
    assert got.message


def test_score_other_scale():
    assert parse_score("6", 1, 6) == (6.0, "")
    assert parse_score("4/6", 1, 6) == (4.0, "")
    assert parse_score("0", 1, 6).code == "out_of_range"
    assert parse_score("0", 1, 6).message == "the score 0 is outside 1 to 6"


def logprob_reply(tokens):
    return {"choices": [{"message": {"content": "".join(t[0] for t in tokens)},
                         "logprobs": {"content": [{"token": t, "logprob": lp, "top_logprobs": top}
                                                  for t, lp, top in tokens]}}]}


def test_digit_expectation_renormalises_digit_tokens():
    top = [{"token": "4", "logprob": math.log(0.5)}, {"token": "5", "logprob": math.log(0.3)},
           {"token": "Score", "logprob": math.log(0.1)}, {"token": " 4", "logprob": math.log(0.1)}]
    raw = logprob_reply([("4", math.log(0.5), top)])
    # digits: 4 -> 0.5 + 0.1 (" 4" folded in), 5 -> 0.3; renormalised over 0.9
    assert digit_expectation(raw, 1, 6) == pytest.approx((4 * 0.6 + 5 * 0.3) / 0.9)


def test_digit_expectation_skips_leading_whitespace_token():
    top = [{"token": "6", "logprob": 0.0}]
    raw = logprob_reply([("\n", -0.1, []), ("6", 0.0, top)])
    assert digit_expectation(raw, 1, 6) == 6.0


@pytest.mark.parametrize("raw", [
    {"choices": [{"message": {"content": "3"}}]},                  # no logprobs
    {"choices": [{"message": {"content": "3"}, "logprobs": None}]},
    None, {}, {"choices": []},
    logprob_reply([("Score", -0.1, []), ("3", -0.1, [{"token": "3", "logprob": -0.1}])]),
    logprob_reply([("7", -0.1, [{"token": "7", "logprob": -0.1}])]),   # out of the scale
])
def test_digit_expectation_absent(raw):
    assert digit_expectation(raw, 1, 6) is None


def test_digit_expectation_without_top_logprobs_uses_the_token():
    raw = logprob_reply([("2", -0.2, None)])
    assert digit_expectation(raw, 1, 6) == 2.0


GOOD = [{"tag": "math", "explanation": "asks for arithmetic"}]


@pytest.mark.parametrize("text", [
    '[{"tag": "math", "explanation": "asks for arithmetic"}]',
    '```json\n[{"tag": "math", "explanation": "asks for arithmetic"}]\n```',
    '```\n[{"tag": "math", "explanation": "asks for arithmetic"}]\n```',
    '  \n[{"tag": " math ", "explanation": "asks for arithmetic"}]\n',
])
def test_tags_strict_json_with_fence_strip(text):
    assert parse_tags(text) == [("math", "asks for arithmetic")]


def test_tags_explanation_optional():
    assert parse_tags('[{"tag": "a"}, {"tag": "b", "explanation": "x"}]') == [("a", ""), ("b", "x")]


@pytest.mark.parametrize("text,code", [
    ('Here are the tags: [{"tag": "math", "explanation": "x"}]', "bad_json"),     # leading prose
    ('[{"tag": "math", "explanation": "x"}]\nHope this helps!', "bad_json"),      # trailing prose
    ("[{'tag': 'math', 'explanation': 'x'}]", "bad_json"),                       # single quotes
    ('[{"tag": "math", "explanation": "x"},]', "bad_json"),                       # trailing comma
    ('{"tag": "a"}{"tag": "b"}', "bad_json"),                                     # two objects
    ('[{"tag": "a"}]\n[{"tag": "b"}]', "bad_json"),                               # two lists
    ('Sure!\n```json\n[{"tag": "a"}]\n```', "bad_json"),                          # prose + fence
    ('[{"tag": NaN}]', "bad_json"),
    ('[{"tag": "a", "tag": "b"}]', "bad_json"),                                   # duplicate key
    ("", "empty"),
    ('{"tags": [{"tag": "a"}]}', "bad_schema"),                                   # valid JSON, wrong schema
    ("[]", "bad_schema"),
    ('["math", "code"]', "bad_schema"),
    ('[{"explanation": "no tag"}]', "bad_schema"),
    ('[{"tag": ""}]', "bad_schema"),
    ('[{"tag": 3}]', "bad_schema"),
    ('[{"tag": "a", "explanation": ["x"]}]', "bad_schema"),
    ('[{"tag": "a", "score": 5}]', "bad_schema"),
])
def test_tags_failures(text, code):
    got = parse_tags(text)
    assert isinstance(got, Failure) and got.code == code, got


def test_json_error_message_names_position():
    got = parse_json('[1, 2,]')
    assert got == Failure("bad_json", "the reply is not valid JSON (Expecting value: line 1 column 7 (char 6))")
