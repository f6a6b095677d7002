"""translate, interactive_translate and langid end to end: languages, preserved code, wrong languages."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.chat.conftest import results, run, write_recipe, write_rows
from tests.conftest import FIXTURES

pytest.importorskip("py3langid")

CODE = ("Fix the function `greet(name)` so that it prints the greeting for {user_name}; the docs are at "
        "https://docs.python.org/3/library/string.html.\n```python\ndef greet(name):\n    print(\"Hi \" + nam)\n```")


def english_rows(n: int = 3) -> list[list[dict]]:
    rows = json.loads((FIXTURES / "chat" / "alpaca_30.json").read_text(encoding="utf-8"))[:n]
    out = [[{"role": "user", "content": (r["instruction"] + "\n\n" + r["input"]).strip()},
            {"role": "assistant", "content": r["output"]}] for r in rows]
    return out + [[{"role": "user", "content": CODE}]]


def translate_recipe(tmp_path, server, **params):
    data = write_rows(tmp_path / "en.jsonl", english_rows())
    stage = {"id": "tr", "op": "translate", "inputs": ["in"], "languages": ["zh", "de", "fr"],
             "source_lang": "en", **params}
    langid = {"id": "lang", "op": "langid", "inputs": ["tr"], "match_declared": True}
    return write_recipe(tmp_path, server.base_url, [stage, langid], data=data)


def test_translate_into_three_languages_with_native_answers(tmp_path, server):
    run(translate_recipe(tmp_path, server), tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "tr")
    assert not rejected and len(kept) == 12 and stats["generated"] == 8
    assert Counter(r["meta"]["lang"] for r in kept) == {"zh": 4, "de": 4, "fr": 4}
    assert all(r["meta"]["source_lang"] == "en" and len(r["meta"]["parents"]) == 1 for r in kept)
    assert all(r["meta"]["response"] == "native" and r["meta"]["prompt"] == "translate_text@1" for r in kept)
    zh = [r for r in kept if r["meta"]["lang"] == "zh"]
    assert all(r["messages"][0]["content"].startswith("请用简单的话解释这个问题") for r in zh)
    assert all(r["messages"][1]["content"].startswith("这是一个用中文写的回答") for r in zh)
    # the answer was generated natively, asked with a hint, and the hint is not kept
    answers = [c for c in server.calls if c.messages[0]["content"] == "Always answer in Chinese."]
    assert len(answers) == 4 and all(len(r["messages"]) == 2 for r in kept)
    # the language check after translation agrees with every declared language
    lang_kept, lang_rejected, lang_stats = results(tmp_path / "out", "lang")
    assert len(lang_kept) == 12 and not lang_rejected
    assert (lang_stats["lang_zh"], lang_stats["lang_de"], lang_stats["lang_fr"]) == (4, 4, 4)


def test_code_blocks_urls_and_placeholders_survive_translation(tmp_path, server):
    run(translate_recipe(tmp_path, server), tmp_path / "out")
    kept, _, _ = results(tmp_path / "out", "tr")
    coded = [r for r in kept if "```python" in r["messages"][0]["content"]]
    assert len(coded) == 3
    for rec in coded:
        text = rec["messages"][0]["content"]
        for span in ("`greet(name)`", "{user_name}", "https://docs.python.org/3/library/string.html",
                     "```python\ndef greet(name):\n    print(\"Hi \" + nam)\n```"):
            assert text.count(span) == 1, (span, text)
    sent = [c.last_user for c in server.calls if c.last_user.startswith("Translate the text below")
            and "⟦3⟧" in c.last_user]
    assert len(sent) == 3 and all("https://" not in s and "```" not in s for s in sent)


def test_lost_marker_is_rejected_with_the_raw_translation(tmp_path, server, model):
    real = model.translate
    model.translate = lambda call, s, p: real(call, s, p).replace("⟦1⟧", "") if "German" in p else \
        real(call, s, p)
    run(translate_recipe(tmp_path, server), tmp_path / "out")
    kept, rejected, _ = results(tmp_path / "out", "tr")
    assert len(kept) == 11 and [(r["reason"], r["lang"]) for r in rejected] == [("placeholders_lost", "de")]
    assert "⟦1⟧" not in rejected[0]["raw"]["reply"] and "⟦0⟧" in rejected[0]["raw"]["reply"]


def test_scripted_wrong_language_is_caught_by_translate_and_by_langid(tmp_path, server, model):
    # every German answer to the egg question comes back in English
    def wrong(call):
        return call.messages[0]["content"] == "Always answer in German." and "Beispiel. (" in call.last_user \
            and egg_tag in call.last_user
    data = write_rows(tmp_path / "en.jsonl", [[{"role": "user", "content": "How do I make a tomato sauce?"}],
                                              [{"role": "user", "content": "How do I boil an egg?"}]])
    from tests.chat.scripted import tag
    egg_tag = tag("How do I boil an egg?")
    model.wrong_language = wrong
    stages = [{"id": "checked", "op": "translate", "inputs": ["in"], "languages": ["zh", "de"],
               "source_lang": "en"},
              {"id": "unchecked", "op": "translate", "inputs": ["in"], "languages": ["zh", "de"],
               "source_lang": "en", "check_lang": False},
              {"id": "lang", "op": "langid", "inputs": ["unchecked"], "match_declared": True}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "checked")
    assert len(kept) == 3 and [(r["reason"], r["lang"]) for r in rejected] == [("wrong_language", "de")]
    assert rejected[0]["raw"]["reply"].startswith("Here is an answer in English.")
    assert stats["requests"] > 0
    kept, rejected, _ = results(tmp_path / "out", "unchecked")
    assert len(kept) == 4 and not rejected
    kept, rejected, stats = results(tmp_path / "out", "lang")
    assert len(kept) == 3 and [r["reason"] for r in rejected] == ["wrong_language"]
    assert rejected[0]["detail"].startswith("assistant turns: detected en (")
    assert rejected[0]["detail"].endswith("declared de")
    assert stats["dropped_wrong_language"] == 1


def test_translate_responses_too_and_weighted_targets(tmp_path, server):
    data = write_rows(tmp_path / "en.jsonl", english_rows(3)[:3])
    stages = [{"id": "tr", "op": "translate", "inputs": ["in"], "weights": {"zh": 3, "de": 1, "fr": 0},
               "per_record": 2, "seed": 1, "response": "translate", "source_lang": "en"}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "tr")
    assert not rejected and len(kept) == 6
    assert Counter(r["meta"]["lang"] for r in kept) == {"zh": 3, "de": 3}     # fr has weight 0
    assert all(r["messages"][1]["content"].startswith(("请用", "Bitte")) for r in kept)
    assert not [c for c in server.calls if "Always answer in" in json.dumps(c.messages)]


def test_interactive_translate_sessions(tmp_path, server):
    data = write_rows(tmp_path / "en.jsonl", english_rows(2)[:2])
    stages = [{"id": "bay", "op": "interactive_translate", "inputs": ["in"], "target_langs": ["zh"],
               "source_lang": "en", "text_from": "response", "num_followups": 2, "seed": 3}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    kept, rejected, _ = results(tmp_path / "out", "bay")
    assert not rejected and len(kept) == 2
    rec = kept[0]
    assert rec["messages"][0]["content"].startswith("Please translate this English text into Chinese:\n\n")
    assert rec["messages"][1]["content"].startswith("请用简单的话解释这个问题")
    assert rec["messages"][2]["content"].startswith("Please make it a little more formal")
    assert rec["messages"][3]["content"].startswith("Answer: Please make it")
    assert len(rec["messages"]) == 6 and rec["meta"]["turns"] == 3
    assert rec["meta"]["lang"] == "zh" and rec["meta"]["source_lang"] == "en"
    assert len(rec["meta"]["followups"]) == 2 and rec["meta"]["termination_reason"] == "followups_done"


def test_source_language_from_meta_or_identification(tmp_path, server):
    rows = [[{"role": "user", "content": "How do I boil an egg so that the yolk stays soft?"}],
            [{"role": "user", "content": "Ok"}]]                  # too short to tell
    data = write_rows(tmp_path / "en.jsonl", rows)
    stages = [{"id": "tr", "op": "translate", "inputs": ["in"], "languages": ["zh"]}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    kept, rejected, _ = results(tmp_path / "out", "tr")
    assert [r["meta"]["source_lang"] for r in kept] == ["en"]
    assert [r["reason"] for r in rejected] == ["unknown_source_language"]


def test_interactive_translate_rejects_a_first_translation_in_the_wrong_language(tmp_path, server, model):
    model.bayling_request = lambda call, s, p: "Here is the translation, but in English by mistake."
    data = write_rows(tmp_path / "en.jsonl", english_rows(1)[:1])
    stages = [{"id": "bay", "op": "interactive_translate", "inputs": ["in"], "target_langs": ["de"],
               "source_lang": "en"}]
    run(write_recipe(tmp_path, server.base_url, stages, data=data), tmp_path / "out")
    kept, rejected, stats = results(tmp_path / "out", "bay")
    assert not kept and [r["reason"] for r in rejected] == ["wrong_language"]
    assert rejected[0]["raw"] == "Here is the translation, but in English by mistake."
    assert stats["requests"] == 2                                  # asked, then re-asked once


def test_translator_on_its_own_endpoint_with_a_text_only_prompt(tmp_path, server, monkeypatch):
    # Bactrian-X translated with a machine-translation service, not the LLM: the translations go
    # to the translator's endpoint (a dedicated MT model gets only the text), answers to the LLM
    import re

    from tests.chat.scripted import SENTENCES, tag
    from tests.fake_openai import FakeOpenAI, FakeReply, completion_body

    def mt(call):
        target = re.match(r"Translate from \w+ to (\w+)\.", call.messages[0]["content"]).group(1)
        text = call.messages[1]["content"]
        markers = " ".join(re.findall(r"⟦\d+⟧", text))
        return FakeReply(200, completion_body(call.body, f"{SENTENCES[target]} {tag(text)} {markers}".strip()))

    other = FakeOpenAI(reply_fn=mt).start()
    try:
        monkeypatch.setenv("MT_KEY", "sk-mt-2222")
        run(translate_recipe(tmp_path, server, languages=["de"], translator_prompt="text_only",
                             translator={"model": "mt-model", "base_url": other.base_url, "api_key_env": "MT_KEY"}),
            tmp_path / "out")
        kept, rejected, _ = results(tmp_path / "out", "tr")
        assert not rejected and len(kept) == 4 and {r["meta"]["translator"] for r in kept} == {"mt-model"}
        assert len(other.calls) == 4 and {c.body["model"] for c in other.calls} == {"mt-model"}
        assert all([m["role"] for m in c.messages] == ["system", "user"] for c in other.calls)
        assert not [c for c in server.calls if "Translate" in c.last_user]     # the LLM only answers
        code = next(r for r in kept if "greet" in r["messages"][0]["content"])
        assert "```python" in code["messages"][0]["content"]            # markers restored in the MT text
        assert other.auth_seen == {"Bearer sk-mt-2222"}
    finally:
        other.stop()
