"""Pure parsers: SelFee verdicts, simulated user turns, numbered lists, protected spans, replies."""

import pytest

from pipeline.chat import selfee
from pipeline.chat.protect import protect, restore, strip_protected
from pipeline.chat.turns import clean_user_turn


@pytest.mark.parametrize("text,needed", [
    ("The answer is wrong: 9 is not prime.\nRevision is needed", True),
    ("Correct and complete.\n\nRevision is not needed.", False),
    ("Fine. **Revision is not needed**", False),
    ("Mostly fine.\nNo revision needed.", False),
    ("I first thought revision is not needed, but the date is wrong.\nRevision is needed.", True),
    ("Looks good to me!", None),
])
def test_feedback_verdict(text, needed):
    assert selfee.parse_feedback(text) == (text.strip(), needed)


def test_clean_revision_drops_label():
    assert selfee.clean_revision("Revised answer:\n2 is prime.") == "2 is prime."
    assert selfee.clean_revision("**Improved answer:** 2 is prime.") == "2 is prime."
    assert selfee.clean_revision("2 is prime.") == "2 is prime."


@pytest.mark.parametrize("raw,clean", [
    ("User: How far is the Moon?", "How far is the Moon?"),
    ('"How far is the Moon?"', "How far is the Moon?"),
    ("**User:** Why?\n\nAssistant: Because.", "Why?"),
    ("How far is it?\nAI: About 384,000 km.", "How far is it?"),
    ("Interesting! And the Sun?", "Interesting! And the Sun?"),
])
def test_clean_user_turn(raw, clean):
    assert clean_user_turn(raw) == clean


SAMPLE = """Write a function `slugify(text)` that follows https://example.com/spec?v=2.
```python
def slugify(text: str) -> str:
    return "{0}".format(text)
```
Reply to {user_name} at bob@example.com; leave <noinput>, %s, {{var}}, ${HOME} and [NAME] as they are."""


def test_protect_swaps_code_links_and_placeholders_and_restores_them():
    prot = protect(SAMPLE)
    assert prot.spans == ("`slugify(text)`", "https://example.com/spec?v=2",
                          '```python\ndef slugify(text: str) -> str:\n    return "{0}".format(text)\n```',
                          "{user_name}", "bob@example.com", "<noinput>", "%s", "{{var}}", "${HOME}", "[NAME]")
    assert prot.text.startswith("Write a function ⟦0⟧ that follows ⟦1⟧.\n⟦2⟧\nReply to ⟦3⟧ at ⟦4⟧;")
    assert restore(prot.text, prot) == (SAMPLE, "")


def test_restore_in_a_translation_that_moved_markers():
    prot = protect("Open https://a.org/x and run `make`.")
    assert restore("Führe ⟦1⟧ aus, nachdem du ⟦0⟧ geöffnet hast.", prot) == \
        ("Führe `make` aus, nachdem du https://a.org/x geöffnet hast.", "")


def test_restore_fails_on_lost_repeated_or_invented_markers():
    prot = protect("Open https://a.org/x and run `make`.")
    assert restore("Öffne die Seite und führe ⟦1⟧ aus.", prot)[0] is None
    assert "repeated" in restore("⟦0⟧ ⟦0⟧ ⟦1⟧", prot)[1]
    assert "unknown marker ⟦7⟧" in restore("⟦0⟧ ⟦1⟧ ⟦7⟧", prot)[1]


def test_text_already_holding_the_marker_gets_a_longer_one():
    prot = protect("Keep ⟦0⟧ literally and `x`.")
    assert prot.text == "Keep ⟦0⟧ literally and ⟦⟦0⟧⟧."
    assert restore(prot.text, prot) == ("Keep ⟦0⟧ literally and `x`.", "")


def test_strip_protected_leaves_prose():
    assert strip_protected("Run `ls` at https://x.org now").split() == ["Run", "at", "now"]
