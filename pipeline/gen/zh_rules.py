"""BELLE's Chinese Alpaca rules (LianjiaTech/BELLE `data/1.5M`): the `指令/输入/输出` blocks and their filters.

Fields are numbered `N. 指令:` / `N. 输入:` / `N. 输出:` (full-width colons accepted), `<无输入>`
marks no input. Lengths count characters, not words. A block mentioning images, files, charts,
links or GPT models is dropped; phrases that address "the GPT model" are cut from instructions.
"""

from __future__ import annotations

import re

from pipeline.gen.lists import parse_alpaca_tasks
from pipeline.gen.pieces import Piece

# BELLE's blacklist, matched as substrings (Chinese has no spaces to mark word boundaries)
ZH_BANNED = ("图像", "图片", "照片", "文件", "图表", "图层", "曲线图", "折线图", "直线图", "柱形图", "饼状图",
             "链接", "http", "OpenAI", "chatgpt", "gpt-3", "gpt-3.5", "gpt-4")
# phrases addressing the model, removed from instructions (longest first, so the longer wins)
GPT_PHRASES = tuple(sorted((
    "要求GPT模型能够", "要求GPT能够", "要求GPT模型", "让GPT模型", "使用GPT模型", "请向GPT模型", "GPT模型应",
    "GPT模型应该", "请求GPT模型", "需要GPT模型回答", "请GPT模型", "请让GPT模型", "训练GPT模型", "GPT模型需要",
    "要求GPT", "让GPT", "使用GPT", "请向GPT", "GPT应", "GPT应该", "请求GPT", "需要GPT回答", "请GPT", "请让GPT",
    "训练GPT", "GPT需要", "希望GPT模型能够", "希望GPT能够", "以便GPT模型能够", "以便GPT能够", "使得GPT模型能够",
    "使得GPT能够", "使GPT模型能够", "使GPT能够", "由GPT模型", "使GPT模型"), key=len, reverse=True))
EXAMPLE_WORDS = ("示例", "例子")
_FIELD = re.compile(r"(\d+)\.\s*(指令|输入|输出)\s*[:：]")
_START = re.compile(r"^\s*(?:###|\d+\.\s*指令\s*[:：])")
_NOINPUT_LINE = re.compile(r"(?m)^[ \t]*<?[ \t]*无输入[ \t]*>?[ \t]*$")
NAMES = {"指令": "Instruction", "输入": "Input", "输出": "Output"}


def parse_zh_tasks(text: str, first: int, *, leading_is_item: bool, truncated: bool = False) -> list[Piece]:
    """BELLE's `###` blocks, each `N. 指令:` / `N. 输入:` / `N. 输出:` under one number: the Chinese
    labels are mapped onto Alpaca's and parsed by the Alpaca parser, so both follow one grammar."""
    text = text.replace("\r\n", "\n")
    if leading_is_item and not _START.match(text):
        text = f"{first}. 指令:" + text
    text = _FIELD.sub(lambda m: f"{m.group(1)}. {NAMES[m.group(2)]}:", text)
    text = _NOINPUT_LINE.sub("<noinput>", text)
    return parse_alpaca_tasks(text, first, leading_is_item=False, truncated=truncated)


def strip_gpt_phrases(instruction: str) -> str:
    for phrase in GPT_PHRASES:
        instruction = instruction.replace(phrase, "")
    return instruction.strip()


def zh_problem(instruction: str, extra: str, output: str, banned: tuple[str, ...]) -> tuple[str, str] | None:
    """The first BELLE rule a task breaks, as (reason, detail), or None; `instruction` is already
    stripped of GPT phrases. Lengths are in characters."""
    block = f"{instruction}\n{extra}\n{output}"
    hit = next((w for w in banned if w.lower() in block.lower()), None)
    if hit:
        return "banned_keyword", f"contains {hit!r}"
    if len(instruction) <= 3:
        return "too_short", f"{len(instruction)} characters <= 3"
    if "GPT" in instruction or "GPT" in extra:
        return "mentions_gpt", "the task still addresses a GPT model"
    limit = 150 if any(w in instruction for w in EXAMPLE_WORDS) else 100
    if extra and len(instruction) >= limit:
        return "too_long", f"{len(instruction)} characters >= {limit} (an instruction with an input)"
    return None
