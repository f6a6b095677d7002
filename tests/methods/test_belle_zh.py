"""BELLE's Chinese Alpaca (`alpaca_instruct` with `lang: zh`): prompt, blocks, rules, a run, resume, recipe."""

from __future__ import annotations

from collections import Counter

from pipeline.gen.seeds import Seed
from pipeline.gen.zh_rules import ZH_BANNED, parse_zh_tasks, strip_gpt_phrases, zh_problem
from pipeline.ops.alpaca_instruct import build_prompt
from tests.methods.conftest import check_resume, run, stage_out, write_recipe
from tests.conftest import ROOT

SEEDS = ROOT / "sources" / "samples" / "belle_zh_seed_tasks.jsonl"


def test_prompt_golden():
    demos = [Seed("a", "给出下面词语的同义词", "惊人地", "令人惊奇地"), Seed("b", "想出一种新口味的冰淇淋。", "", "爆米花口味")]
    text = build_prompt(demos, 10, True, "zh")
    assert text.startswith("请写出10条各不相同的任务指令。")
    assert text.endswith("下面是10个任务的列表：\n###\n1. 指令: 给出下面词语的同义词\n1. 输入:\n惊人地\n1. 输出:\n令人惊奇地\n"
                         "###\n2. 指令: 想出一种新口味的冰淇淋。\n2. 输入:\n<无输入>\n2. 输出:\n爆米花口味\n\n"
                         "请按完全相同的格式继续写第3到第10个任务，每个任务都以一行“###”开头。\n")
    assert build_prompt(demos, 10, False, "zh").endswith("爆米花口味\n###\n3. 指令:")


def test_blocks_parsed_with_either_colon_and_no_input():
    reply = ("好的：\n###\n4. 指令：把下面的句子翻译成英文。\n4. 输入：\n今天天气很好。\n4. 输出：\nThe weather is nice today.\n"
             "###\n5. 指令: 世界上最高的山峰是什么？\n5. 输入:\n<无输入>\n5. 输出:\n珠穆朗玛峰。\n###\n6. 指令: 缺少输出\n6. 输入:\n无")
    pieces = parse_zh_tasks(reply, 4, leading_is_item=False)
    assert [p.problem for p in pieces] == ["commentary", None, None, "malformed_item"]
    assert pieces[1].fields == {"instruction": "把下面的句子翻译成英文。", "input": "今天天气很好。",
                                "output": "The weather is nice today."}
    assert pieces[2].fields["input"] == ""
    cont = parse_zh_tasks(" 写一首关于秋天的诗。\n4. 输入:\n<无输入>\n4. 输出:\n秋风起。", 4, leading_is_item=True)
    assert cont[0].fields["instruction"] == "写一首关于秋天的诗。"


def test_belle_rules_in_characters():
    assert strip_gpt_phrases("请GPT模型解释长城的由来。") == "解释长城的由来。"
    assert strip_gpt_phrases("希望GPT模型能够总结这段话") == "总结这段话"
    assert zh_problem("描述这张图片的内容。", "", "一只猫", ZH_BANNED) == ("banned_keyword", "contains '图片'")
    assert zh_problem("访问这个网址", "http://x.cn", "好", ZH_BANNED)[0] == "banned_keyword"
    assert zh_problem("翻译", "", "好", ZH_BANNED) == ("too_short", "2 characters <= 3")
    assert zh_problem("告诉我GPT是什么", "", "一种模型", ZH_BANNED)[0] == "mentions_gpt"
    long = "请" * 100
    assert zh_problem(long, "材料", "好", ZH_BANNED)[0] == "too_long"
    assert zh_problem(long, "", "好", ZH_BANNED) is None                 # no input: no length cap
    assert zh_problem("请" * 120 + "示例", "材料", "好", ZH_BANNED) is None   # an example allows 150


def zh_recipe(folder, server, target=12):
    return write_recipe(folder, server.base_url, [
        {"id": "seeds", "op": "ingest", "source": "self_instruct_seeds", "path": str(SEEDS)},
        {"id": "gen", "op": "alpaca_instruct", "inputs": ["seeds"], "lang": "zh", "tasks_per_request": 10,
         "target": target, "requests_per_round": 2, "seed": 1}])


def test_generation_applies_belle_rules(tmp_path, server):
    run(zh_recipe(tmp_path, server), tmp_path / "out")
    kept, rejected, stats = stage_out(tmp_path / "out", "gen")
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["banned_keyword"] >= 1 and reasons["too_short"] >= 1 and reasons["too_long"] >= 1
    made = [r for r in kept if r["meta"].get("source") == "alpaca_instruct"]
    assert len(made) == 12 and all(r["meta"]["lang"] == "zh" for r in made)
    assert any(r["meta"]["instruction"].startswith("解释") for r in made)        # "请GPT模型" was cut
    assert all("GPT" not in r["messages"][0]["content"] for r in made)
    assert made[0]["meta"]["prompt"] == "alpaca_instruct_zh@1"


def test_sigkill_then_resume(tmp_path, server):
    check_resume(tmp_path, server, lambda folder: zh_recipe(folder, server, 30), "gen", 3, 0.05)


def test_bundled_recipe_and_dry_run(tmp_path, server):
    from tests.conftest import cli

    recipe = str(ROOT / "recipes" / "belle_zh.yaml")
    dry = cli("run", recipe, "--out", str(tmp_path / "dry"), "--dry-run", "--base-url", server.base_url)
    assert dry.returncode == 0, dry.stderr
    assert not server.hits
    assert "请写出10条" in (tmp_path / "dry" / "dry-run" / "generate.md").read_text(encoding="utf-8")
    proc = cli("run", recipe, "--out", str(tmp_path / "out"), "--base-url", server.base_url)
    assert proc.returncode == 0, proc.stderr
    kept, rejected, _ = stage_out(tmp_path / "out", "generate")
    # the scripted model has few task shapes: novelty ends the run before the target of 40
    assert sum(r["meta"].get("source") == "alpaca_instruct" for r in kept) >= 10
    assert any(r["reason"] == "too_similar" for r in rejected)
    assert (tmp_path / "out" / "export" / "dataset").is_dir()


def test_self_instruct_zh_prompt_golden():
    from pipeline.ops.self_instruct import build_tasks_prompt

    text = build_tasks_prompt(["给出下面词语的同义词", "想出一种新口味的冰淇淋。"], classification=False, first=3, last=9,
                              chat=True, lang="zh")
    assert text == ("请构思一个编号列表，列出各不相同的任务：\n1. 给出下面词语的同义词\n2. 想出一种新口味的冰淇淋。\n\n"
                    "请用中文继续这个列表，写出编号从3到9的新任务，每个都要和上面的不同。每行写一个任务，格式同样是“N. 任务”，"
                    "只回复新写的这几行。\n")


def test_self_instruct_zh_lists_tasks_under_belle_rules(tmp_path, server):
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "seeds", "op": "ingest", "source": "self_instruct_seeds", "path": str(SEEDS)},
        {"id": "tasks", "op": "self_instruct", "inputs": ["seeds"], "lang": "zh", "generate_instances": False,
         "target": 10, "requests_per_round": 2, "seed": 4},
        {"id": "answers", "op": "respond", "inputs": ["tasks"]}])
    run(recipe, tmp_path / "out")
    kept, rejected, _ = stage_out(tmp_path / "out", "tasks")
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["banned_keyword"] >= 1 and reasons["too_short"] >= 1
    assert len(kept) == 10 and all(r["meta"]["lang"] == "zh" for r in kept)
    assert any(r["meta"]["instruction"].startswith("比较") for r in kept)          # "请GPT模型" was cut
    assert kept[0]["meta"]["prompt"] == "self_instruct_tasks_zh@1"
    answered, _, _ = stage_out(tmp_path / "out", "answers")
    assert len(answered) == 10


def test_self_instruct_zh_needs_respond_for_instances(tmp_path, server):
    import pytest

    from pipeline.errors import ConfigError

    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "seeds", "op": "ingest", "source": "self_instruct_seeds", "path": str(SEEDS)},
        {"id": "tasks", "op": "self_instruct", "inputs": ["seeds"], "lang": "zh"}])
    with pytest.raises(ConfigError, match="generate_instances: false"):
        run(recipe, tmp_path / "out")
