"""Phrase lists of the content rules: refusals, AI boilerplate, leftover placeholders, truncation.

English and Chinese phrasings, matched case-insensitively. Recipes can add their own.
"""

from __future__ import annotations

import re

REFUSAL = [
    r"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|am (?:not able|unable)|won't|will not)\b",
    r"\bI (?:can(?:no|')t|am unable to|am not able to|won't) (?:help|assist|comply|fulfil+|provide|do) "
    r"(?:with )?(?:that|this|your request)",
    r"\bI(?:'m| am) not (?:able|allowed|permitted) to (?:help|assist|answer|provide|do)",
    r"\bI (?:must|have to) (?:respectfully )?(?:decline|refuse)\b",
    r"\bcannot be (?:\w+ )?(?:completed|fulfilled|done|performed|created|generated|produced) by "
    r"(?:a|an|the) (?:GPT|AI|language)\b",
    r"\b(?:GPT|AI|language) models? (?:cannot|can ?not|can't|(?:is|are) (?:not able|unable) to)\b",
    r"抱歉，?我(?:不能|无法|没办法)",
    r"(?:我不能|我无法)(?:回答|提供|满足|协助|帮助)",
]

BOILERPLATE = [
    r"\bas an? (?:AI|artificial intelligence)(?: language model| model| assistant| chatbot)?,? I\b",
    r"\bas a (?:large )?language model,? I\b",
    r"\bI(?:'m| am) (?:just )?an? (?:AI|artificial intelligence|language model)\b",
    r"\bI do(?: not|n't) have (?:personal )?(?:opinions|feelings|emotions|beliefs|experiences)\b",
    r"\b(?:my|the) (?:knowledge|training data) cut-?off\b",
    r"作为一?个?[^，。,.\s]{0,4}?(?:AI|人工智能|语言模型)",
    r"我(?:只)?是一个?(?:AI|人工智能|语言模型)",
]

PLACEHOLDER = [
    r"<\s*no\s*(?:input|output)\s*>",
    r"\[\s*(?:your|my|insert|enter|recipient(?:'s)?|company|customer|candidate)\b[^\]\n]{0,40}\]",
    r"\[\s*(?:name|date|address|phone(?: number)?|email(?: address)?|city|title|company name)\s*\]",
    r"\{\{[^{}\n]{1,40}\}\}",
    r"【(?:姓名|名字|你的名字|日期|地址)】",
]

# Words a complete sentence rarely ends on: a prose line ending on one was likely cut off.
DANGLING = {"a", "an", "the", "and", "or", "but", "of", "because", "的", "和", "与", "及", "或"}
TRAILING = tuple(",:–—、，：")
CODE_CHARS = set("(){}[]<>=;")


def compile_all(patterns: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)
